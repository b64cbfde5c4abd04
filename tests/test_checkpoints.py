"""Checkpoints restore networks by weight name: a network whose layers were created in another
order gets every weight back in its own layer; a renamed layer is refused with the names."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from sggan.data import attribute_groups
from sggan.training import checkpoints
from sggan.errors import UserError
from sggan.nn.layers import deconv, instance_norm
from sggan.models.sggan import networks
from sggan.models.sggan.networks import HEAD_BLOCKS, OutputHead, ResidualBlock
from sggan.models.sggan.outputs import output_layout

NGF, N_BLOCKS = 4, 2
GROUPS = [o.group for o in output_layout([attribute_groups.Group(f"g{a}", "single", (f"attribute{a}",)) for a in range(2)])]


class ReorderedGenerator(networks.Generator):
    """SG-GAN's generator with the same named layers created in reverse order (heads first, the
    encoder last), or with the shared upsampling layer under another name."""

    def __init__(self, output_groups, ngf, n_blocks, shared_up_name="shared_up", **kwargs):
        keras.Model.__init__(self, **kwargs)  # Generator.__init__ would create them in its own order
        self.n_outputs = len(output_groups)
        self.heads = [None] * self.n_outputs
        for k in reversed(range(self.n_outputs)):
            self.heads[k] = OutputHead(ngf, HEAD_BLOCKS[output_groups[k] % len(HEAD_BLOCKS)], name=f"head{k}")
        self.heads = list(self.heads)
        self.shared_norm, self.shared_up = instance_norm("shared_norm"), deconv(2 * ngf, 4, 2, name=shared_up_name)
        self.blocks = [ResidualBlock(4 * ngf, name=f"block{i}") for i in reversed(range(n_blocks))][::-1]
        norms = [instance_norm(f"enc{i}_norm") for i in (3, 2, 1)]
        convs = [networks.conv(4 * ngf, 4, 2, name="enc3"), networks.conv(2 * ngf, 4, 2, name="enc2"),
                 networks.conv(ngf, 7, name="enc1")]
        self.encoder = [layer for pair in zip(convs[::-1], norms[::-1]) for layer in pair]


def built(model):
    model(tf.zeros((1, 16, 16, 3)))
    return model


def saved_generator(directory):
    """A generator saved as checkpoint 3; returns its weights by path."""
    keras.utils.set_random_seed(1)
    original = built(networks.Generator(GROUPS, NGF, N_BLOCKS, name="generator"))
    store = checkpoints.Checkpoints(directory, 2, {"generator": original}, {})
    store.step.assign(3)
    store.save()
    return original, {v.path: v.numpy() for v in original.weights}


def test_layers_created_in_another_order_restore_by_name(tmp_path):
    original, stored = saved_generator(str(tmp_path))
    keras.utils.set_random_seed(2)
    reordered = built(ReorderedGenerator(GROUPS, NGF, N_BLOCKS, name="generator"))
    order = [v.path for v in original.weights]
    new_order = [v.path for v in reordered.weights]
    assert sorted(order) == sorted(new_order) and order != new_order
    # A positional restore would put weights into other layers of the same shape without a word.
    misplaced = [(a.path, b.path) for a, b in zip(original.weights, reordered.weights)
                 if a.path != b.path and a.shape == b.shape]
    assert misplaced
    store = checkpoints.Checkpoints(str(tmp_path), 2, {"generator": reordered}, {})
    assert store.restore_latest().endswith("ckpt-3")
    for v in reordered.weights:
        np.testing.assert_array_equal(v.numpy(), stored[v.path], err_msg=v.path)
    images = tf.random.stateless_uniform((2, 16, 16, 3), (0, 1), -1, 1)
    for a, b in zip(original(images), reordered(images)):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_a_renamed_layer_is_refused_with_the_names(tmp_path, capsys):
    saved_generator(str(tmp_path))
    renamed = built(ReorderedGenerator(GROUPS, NGF, N_BLOCKS, shared_up_name="upsample", name="generator"))
    before = {v.path: v.numpy() for v in renamed.weights}
    store = checkpoints.Checkpoints(str(tmp_path), 2, {"generator": renamed}, {})
    with pytest.raises(UserError) as refused:
        store.restore_step(3)
    message = str(refused.value)
    assert "ckpt-3 cannot be used" in message
    missing, unexpected = message.split("2 weight(s) missing", 1)[1].split("2 weight(s) not in this model", 1)
    # missing from the checkpoint: the new name; in the checkpoint but not in this model: the old one
    assert "generator/upsample/bias" in missing and "generator/upsample/kernel" in missing
    assert "generator/shared_up/bias" in unexpected and "generator/shared_up/kernel" in unexpected
    assert store.restore_latest() is None and "ckpt-3 cannot be used" in capsys.readouterr().err
    for v in renamed.weights:  # nothing was restored, not even the weights whose names match
        np.testing.assert_array_equal(v.numpy(), before[v.path], err_msg=v.path)


@pytest.mark.parametrize("removed", [".index", ".data-00000-of-00001"])
def test_an_incomplete_checkpoint_is_named_and_skipped(tmp_path, capsys, removed):
    original, stored = saved_generator(str(tmp_path))
    store = checkpoints.Checkpoints(str(tmp_path), 3, {"generator": original}, {})
    store.step.assign(5)
    store.save()
    (tmp_path / f"ckpt-5{removed}").unlink()
    missing = ".index file" if removed == ".index" else ".data file"
    assert checkpoints.incomplete(str(tmp_path)) == [(5, str(tmp_path / "ckpt-5"), f"its {missing} is missing")]
    assert store.restore_latest().endswith("ckpt-3")
    assert (f"warning: checkpoint {tmp_path}/ckpt-5 is incomplete (its {missing} is missing); skipped it, "
            f"using {tmp_path}/ckpt-3") in capsys.readouterr().err
    with pytest.raises(UserError, match=f"ckpt-5 is incomplete \\(its {missing} is missing\\); available: 3$"):
        store.restore_step(5)
