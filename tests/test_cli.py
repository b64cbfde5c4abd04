"""The command line: help, overrides, dry run, and one-line errors (exit 2) for every bad input.

Most calls run main.run in-process (what `python main.py` runs); --help, one dry run and one error
run as a real process, to show the script itself keeps the contract."""
import json
import os
import subprocess
import sys
import types

import pytest

import config
import main
from sggan.app import options
from sggan.errors import UserError
from tests.helpers import BOUND_SECONDS, ROOT, TINY, copy_data, make_cfg, run_main


@pytest.fixture
def cli(capsys):
    """main.run in-process: `python main.py …` without a new process (its exit status and output)."""
    def call(*argv):
        capsys.readouterr()
        status = main.run([str(a) for a in argv])
        out = capsys.readouterr()
        return types.SimpleNamespace(returncode=status, stdout=out.out, stderr=out.err)
    return call


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_help_lists_every_setting_with_its_default(capsys):
    with pytest.raises(SystemExit) as exit_status:
        main.run(["--help"])
    out = capsys.readouterr().out
    assert exit_status.value.code == 0
    for name in config.SETTINGS:
        assert f"--{name}" in out, name
    assert "(default: 8)" in out and "--mode" in out


def _help(capsys, *argv):
    with pytest.raises(SystemExit):
        main.run([*argv, "--help"])
    return capsys.readouterr().out


def test_help_is_grouped_as_config_py_with_one_default_each(capsys):
    out = _help(capsys)
    titles = [line[:-1] for line in out.splitlines() if line.endswith(":") and not line.startswith(" ")]
    assert titles == ["options", *options.GROUPS]
    order = [out.index(text) for text in ("\ntraining:", "\n  --lam_id", "\n  --lam_cycle", "\nwatching and saving:")]
    assert order == sorted(order)
    assert "--model {sggan,vacgan}" in out and "--loss {wgan-gp,hinge,lsgan,nsgan}" in out
    for name in options.OPTIONS:
        text = " ".join(out.split(f"\n  --{name} ", 1)[1].split("\n  --", 1)[0].split())
        assert text.count("(default:") == 1, (name, text)
    assert "(default: None)" not in out


def test_help_of_a_mode_shows_only_its_groups(capsys):
    out = _help(capsys, "--mode", "test")
    assert "test mode:" in out and "data:" in out and "what to run:" in out and "--exp_dir" in out
    assert "training:" not in out and "--lam_id" not in out and "VAC+GAN:" not in out


def test_defaults_are_the_originals_and_flags_override():
    cfg = make_cfg()
    assert (cfg["batch_size"], cfg["learn_rate"], cfg["image_size"], cfg["max_iters"]) == (8, 1e-4, 128, 40000)
    assert (cfg["beta1"], cfg["beta2"], cfg["lam_recon"], cfg["lam_gp"], cfg["sp_type"]) == (0.5, 0.999, 10, 10, 0)
    assert cfg["mode"] == "train" and cfg["exp_dir"] == os.path.join(ROOT, "train_log_sggan_celeba")
    cfg = make_cfg("--batch_size", "16", "--mode", "test", "--attributes", "Male", "Young")
    assert cfg["batch_size"] == 16 and cfg["mode"] == "test" and cfg["attributes"] == ["Male", "Young"]


def test_mode_flag_in_config_py_selects_test():
    module = types.SimpleNamespace(**{k: getattr(config, k) for k in ("SETTINGS", "PRESETS", "OPER_NAME")},
                                   OPER_FLAG=1)
    assert make_cfg(module=module)["mode"] == "test"
    assert make_cfg("--mode", "train", module=module)["mode"] == "train"


@pytest.mark.parametrize("argv,fragment", [
    (["--batch_sise", "4"], "unknown option --batch_sise; did you mean --batch_size"),
    (["--batch_size", "-3"], "--batch_size must be positive"),
    (["--batch_size", "many"], "--batch_size expects int"),
    (["--image_size", "100"], "--image_size 100 cannot be taken by a discriminator of --d_layers 6"),
    (["--image_size", "30", "--d_layers", "1"], "must be a multiple of 4"),
    (["--loss", "wgan"], "invalid choice"),
    (["--sp_type", "3"], "invalid choice"),
    (["--model", "vacgan", "--jit", "--strategy", "mirrored"], "--jit cannot be combined with --strategy mirrored"),
])
def test_bad_flags_are_refused_before_anything_runs(argv, fragment):
    with pytest.raises(UserError, match=None) as problem:
        make_cfg(*argv)
    assert fragment in str(problem.value)


def test_dry_run_prints_one_json_object(demo_dir):
    result = run_main("--data_dir", demo_dir, "--dry_run", *TINY)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["devices"] == "CPU (no GPU visible)"  # this machine has no GPU
    assert summary["train_images"] == 128 and summary["train_entries"] == 128 and summary["test_images"] == 16
    assert set(summary["groups"]) == set(config.SETTINGS["attributes"])
    for counts in summary["groups"].values():
        assert set(counts) == {"labelled", "labelled_entries", "positives", "classes"}
        assert 0 <= counts["positives"] <= counts["labelled"] <= counts["labelled_entries"]
        assert sum(counts["classes"].values()) == counts["labelled"]
    assert summary["generator_params"] > 0 and summary["discriminator_params"] > 0


def test_dry_run_with_sparse_labels_and_custom_groups(demo_dir, cli):
    result = cli("--data_dir", demo_dir, "--dry_run", *TINY, "--labelled", "0.25", "--oversample_times", "2",
                 "--attributes", "Male", "Black_Hair/Blond_Hair")
    summary = json.loads(result.stdout)
    assert summary["train_entries"] == 128 + 2 * 32
    assert summary["groups"]["Male"]["labelled"] == 32 and summary["groups"]["Male"]["labelled_entries"] == 96


def test_missing_data_folder(tmp_path, cli):
    assert_one_line_error(cli("--data_dir", tmp_path / "nowhere", "--dry_run"),
                          "data folder", "does not exist", "--data_dir")


def test_missing_attribute_file(tmp_path, cli):
    assert_one_line_error(cli("--data_dir", tmp_path, "--dry_run"), "no attribute file", "list_attr_celeba.txt")


def test_malformed_row(demo_dir, tmp_path, cli):
    data = copy_data(demo_dir, tmp_path)
    path = os.path.join(data, "list_attr_celeba.txt")
    lines = open(path).read().split("\n")
    lines[5] = lines[5][:-3]
    open(path, "w").write("\n".join(lines))
    assert_one_line_error(cli("--data_dir", data, "--dry_run", *TINY), "list_attr_celeba.txt line 6")


def test_unknown_attribute_name_suggests(demo_dir, cli):
    assert_one_line_error(cli("--data_dir", demo_dir, "--dry_run", *TINY, "--attributes", "Blond_Hiar"),
                          "unknown attribute 'Blond_Hiar'", "did you mean Blond_Hair")


def test_missing_images_are_refused_then_skipped_on_request(demo_dir, tmp_path, cli):
    data = copy_data(demo_dir, tmp_path)
    for name in ("000001.jpg", "000002.jpg", "000150.jpg"):
        os.remove(os.path.join(data, "img_align_celeba", name))
    assert_one_line_error(cli("--data_dir", data, "--dry_run", *TINY),
                          "3 listed image(s) missing", "000001.jpg, 000002.jpg, 000150.jpg", "--skip_missing")
    result = cli("--data_dir", data, "--dry_run", *TINY, "--skip_missing")
    assert result.returncode == 0 and "warning: skipping 3 listed image(s)" in result.stderr
    summary = json.loads(result.stdout)
    assert summary["train_images"] == 126 and summary["test_images"] == 15


def test_batch_larger_than_training_set(demo_dir, cli):
    assert_one_line_error(cli("--data_dir", demo_dir, "--dry_run", *TINY, "--batch_size", "500"),
                          "--batch_size 500 is larger than the training set (128")


def test_image_folder_alternatives(demo_dir, tmp_path, cli):
    data = copy_data(demo_dir, tmp_path)
    os.rename(os.path.join(data, "img_align_celeba"), os.path.join(data, "celebA"))
    assert cli("--data_dir", data, "--dry_run", *TINY).returncode == 0
    elsewhere = tmp_path / "pictures"
    os.rename(os.path.join(data, "celebA"), elsewhere)
    assert_one_line_error(cli("--data_dir", data, "--dry_run", *TINY), "no image folder")
    assert cli("--data_dir", data, "--image_dir", elsewhere, "--dry_run", *TINY).returncode == 0


def test_configuration_page_is_up_to_date():
    from scripts import make_config_docs
    with open(make_config_docs.PAGE) as f:
        written = f.read()
    assert written == make_config_docs.page(), "docs/configuration.md is out of date: run scripts/make_config_docs.py"
    for name in config.SETTINGS:
        assert f"| `--{name}` |" in written, name


def _before_tensorflow(*argv, cwd=None):
    """main.run(argv) in a fresh process: its stderr, and whether TensorFlow had been imported when it returned."""
    code = ("import sys, main; status = main.run(sys.argv[1:]); "
            "print(status, 'tensorflow' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code, *map(str, argv)], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=BOUND_SECONDS)
    return done.stdout.split(), done.stderr


@pytest.mark.parametrize("argv,fragment", [
    (["--data_dir", "/nowhere/faces"], "data folder /nowhere/faces does not exist"),
    (["--mode", "test", "--exp_dir", "/nowhere/exp", "--input", "/nowhere/photo.jpg"],
     "--input /nowhere/photo.jpg does not exist"),
    (["--mode", "test", "--exp_dir", "/nowhere/exp", "--input", __file__], "is not a readable image"),
    (["--mode", "export", "--exp_dir", "/nowhere/exp"], "no trained experiment in /nowhere/exp"),
    (["--input", "photo.jpg"], "--input is for --mode test"),
    (["--set", "Male=1"], "--set is a setting of --model vacgan"),
    (["--labelled", "2.5"], "--labelled 2.5 must be a whole count of images or a fraction below 1"),
])
def test_cheap_checks_answer_before_tensorflow_is_imported(argv, fragment):
    (status, imported), stderr = _before_tensorflow(*argv)
    assert (status, imported) == ("2", "False"), stderr
    assert stderr.startswith("error: ") and fragment in stderr, stderr


def test_a_setting_of_the_other_model_is_a_warning(demo_dir):
    result = run_main("--data_dir", demo_dir, "--dry_run", *TINY, "--z_dim", "8")
    assert result.returncode == 0
    assert "warning: --z_dim is a setting of --model vacgan; sggan ignores it" in result.stderr


def test_default_folders_are_the_projects_but_typed_ones_are_the_working_directorys(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = make_cfg("--demo")
    assert cfg["data_dir"] == os.path.join(ROOT, "data", "demo_faces")
    assert cfg["exp_dir"] == os.path.join(ROOT, "train_log_sggan_celeba_demo")
    cfg = make_cfg("--demo", "--data_dir", "faces", "--exp_dir", "runs/a")
    assert (cfg["data_dir"], cfg["exp_dir"]) == ("faces", "runs/a")
    assert make_cfg("--data_dir", "data/celeba")["data_dir"] == "data/celeba"


def test_main_run_from_another_folder_reads_the_projects_data(tmp_path):
    """`python3 /path/to/main.py --dry_run` from elsewhere: the data folder it names is the project's."""
    done = subprocess.run([sys.executable, os.path.join(ROOT, "main.py"), "--dry_run"], capture_output=True,
                          text=True, cwd=tmp_path, timeout=BOUND_SECONDS)
    if done.returncode != 0:  # no CelebA here: the error names the project's folder, not ./data/celeba
        assert f"data folder {os.path.join(ROOT, 'data', 'celeba')} does not exist" in done.stderr, done.stderr
