"""Bad input gets one `error:` line (issue 13, item 6): attribute and partition files, TFRecord
shards, config.py, out-of-range flags and unusable experiment folders."""
import errno
import os
import shutil
import types

import pytest

import config
from sggan.data import celeba, datasets
from sggan.app import lock
from sggan.errors import UserError
from sggan.app.lock import ExperimentLock
from sggan.models.sggan import data as sggan_data
from tests.helpers import ROOT, TINY, copy_data, make_cfg, only_error_line, run_main


@pytest.mark.parametrize("content,fragment", [
    (bytes(range(256)) * 8 + b"\0", "is a binary file"),
    ("200\nMäle Smiling\n".encode("latin-1"), "line 2: not UTF-8 text"),
    (b"2\nMale Smiling\na.jpg 1.0 -1\nb.jpg 1 -1\n", "line 3: attribute values must be 1 or -1, found '1.0'"),
    (b"2\nMale Smiling\na.jpg yes -1\nb.jpg 1 -1\n", "found 'yes' for Male"),
    (b"2\nMale Male\na.jpg 1 -1\nb.jpg 1 -1\n", "attribute name(s) listed more than once: Male"),
], ids=["binary", "latin-1", "not-plus-minus-one", "word", "repeated-name"])
def test_bad_attribute_files(tmp_path, content, fragment):
    (tmp_path / "list_attr_celeba.txt").write_bytes(content)
    with pytest.raises(UserError) as problem:
        celeba.read_attributes(str(tmp_path))
    assert fragment in str(problem.value)


@pytest.mark.parametrize("content,fragment", [
    (b"\xff\xfe\x00garbage", "is a binary file"),
    (b"image_id,Male\na.jpg,\"1\n", "line 2: not readable as CSV"),
    (b"image_id,Male\na.jpg,1,1\n", "line 2: expected a file name and 1 values"),
])
def test_bad_csv_attribute_files(tmp_path, content, fragment):
    (tmp_path / "list_attr_celeba.csv").write_bytes(content)
    with pytest.raises(UserError, match=fragment):
        celeba.read_attributes(str(tmp_path))


def test_binary_partition_file(demo_dir, tmp_path):
    data = copy_data(demo_dir, tmp_path)
    with open(os.path.join(data, "list_eval_partition.txt"), "wb") as f:
        f.write("000001.jpg 0\n00000ä.jpg 2\n".encode("latin-1"))
    with pytest.raises(UserError, match="list_eval_partition.txt line 2: not UTF-8 text"):
        datasets.prepare(make_cfg("--data_dir", data, *TINY), sggan_data.labelling)


def test_garbage_tfrecord_names_shard(demo_dir, tmp_path):
    from sggan.data import tfrecord
    table = celeba.read_attributes(demo_dir)
    out = str(tmp_path / "shards")
    tfrecord.write_shards(table, os.path.join(demo_dir, "img_align_celeba"), out, shard_size=100)
    with open(os.path.join(out, tfrecord.NAMES_FILE), "wb") as f:
        f.write(os.urandom(200))
    with pytest.raises(UserError, match="attributes.tfrecord cannot be read"):
        tfrecord.read_shards(out)


def config_module(settings=None, presets=None, **names):
    values = {k: getattr(config, k) for k in ("OPER_FLAG", "OPER_NAME")}
    values.update(names)
    return types.SimpleNamespace(SETTINGS=settings if settings is not None else dict(config.SETTINGS),
                                 PRESETS=presets if presets is not None else config.PRESETS, **values)


@pytest.mark.parametrize("change,fragment", [
    ({"batch_size": "8"}, "config.py SETTINGS['batch_size'] expects an integer, got '8' (str)"),
    ({"ngf": 64.0}, "SETTINGS['ngf'] expects an integer, got 64.0 (float)"),
    ({"learn_rate": "fast"}, "SETTINGS['learn_rate'] expects a number"),
    ({"no_sp": 1}, "SETTINGS['no_sp'] expects True or False"),
    ({"attributes": "Male"}, "SETTINGS['attributes'] must be a non-empty list"),
    ({"loss": "wgan"}, "SETTINGS['loss'] must be one of wgan-gp, hinge, lsgan, nsgan"),
    ({"beta2": 1.5}, "SETTINGS['beta2'] must be below 1.0"),
    ({"learn_rate": float("nan")}, "SETTINGS['learn_rate'] must be a finite number"),
    ({"batch_sise": 8}, "unknown setting(s) 'batch_sise' (did you mean 'batch_size'?)"),
    ({"image_size": None}, "SETTINGS['image_size'] must be set"),
])
def test_config_py_is_checked_like_the_command_line(change, fragment):
    with pytest.raises(UserError) as problem:
        make_cfg(module=config_module({**config.SETTINGS, **change}))
    assert fragment in str(problem.value)


def test_config_py_missing_keys_and_bad_presets():
    settings = {k: v for k, v in config.SETTINGS.items() if k not in ("ngf", "keep")}
    with pytest.raises(UserError, match="SETTINGS lacks 'ngf', 'keep'"):
        make_cfg(module=config_module(settings))
    presets = {**config.PRESETS, "demo": {**config.PRESETS["demo"], "n_block": 2}}
    with pytest.raises(UserError, match=r"PRESETS\['demo'\] has unknown setting\(s\) 'n_block' \(did you mean 'n_blocks'\?\)"):
        make_cfg(module=config_module(presets=presets))
    with pytest.raises(UserError, match="OPER_FLAG in config.py must be 0"):
        make_cfg(module=config_module(OPER_FLAG="1"))


def test_config_py_syntax_error_is_one_line_with_the_line_number(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    shutil.copy(os.path.join(ROOT, "main.py"), tree)
    os.symlink(os.path.join(ROOT, "sggan"), tree / "sggan")
    source = open(os.path.join(ROOT, "config.py")).read().replace('"ngf": 64,', '"ngf": 64,,')
    (tree / "config.py").write_text(source)
    line = source[:source.index('"ngf": 64,,')].count("\n") + 1
    only_error_line(run_main("--dry_run", script=tree / "main.py"), f"config.py line {line}: invalid syntax")
    (tree / "config.py").write_text(source.replace('"ngf": 64,,', '"ngf": 64 // 0,'))
    only_error_line(run_main("--dry_run", script=tree / "main.py"), "config.py line", "ZeroDivisionError")


@pytest.mark.parametrize("argv,fragment", [
    (["--labelled", "nan"], "--labelled must be a finite number, got nan"),
    (["--labelled", "inf"], "--labelled must be a finite number, got inf"),
    (["--seed", "4294967296"], "--seed must be at most 4294967295"),
    (["--beta1", "1.5"], "--beta1 must be below 1.0"),
    (["--beta2", "1"], "--beta2 must be below 1.0"),
    (["--beta1", "-0.1"], "--beta1 must be at least 0.0"),
    (["--learn_rate", "nan"], "--learn_rate must be a finite number"),
    (["--g_learn_rate", "inf"], "--g_learn_rate must be a finite number"),
    (["--lam_gp=-inf"], "--lam_gp must be a finite number"),
    (["--test_fraction", "1"], "--test_fraction must be below 1.0"),
])
def test_non_finite_and_out_of_range_flags(argv, fragment):
    with pytest.raises(UserError) as problem:
        make_cfg(*argv)
    assert fragment in str(problem.value)


def test_exp_dir_naming_a_file(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(UserError, match="is a file, not a folder"):
        make_cfg("--exp_dir", tmp_path / "afile")


def test_unwritable_experiment_folder(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(tmp_path / "exp" / "run.lock"))
    monkeypatch.setattr(lock, "open", refuse, raising=False)
    with pytest.raises(UserError, match="cannot write to the experiment folder .*Permission denied"):
        with ExperimentLock(str(tmp_path / "exp")):
            pass
