"""The edits as the independent classifier judges them: pure NumPy functions of predictions,
labels and pixels, so that they can be checked against stub generators with known outputs.

Per output (see outputs.py: the group a it edits and its target class t):
- success: share of all test images whose output the classifier puts in class t;
- success_needed: the same over the labelled inputs whose real class is not t (an edit is needed);
- preservation: over all images and all other groups, share whose predicted class on the output
  equals the prediction on the input;
- l1: mean |output − input| per pixel (images in [−1, 1]);
- l1_kept / psnr_kept: over labelled inputs already of class t, how close the output stays;
- spread_ratio, collapsed, identity, identity_lost: see integrity (these need no classifier, and
  test mode and training report them always).
"""
import numpy as np

# An output is "collapsed" when its images differ from each other less than this share of how much
# the inputs differ from each other (mean pairwise L1): one face, whatever the input.
COLLAPSE_RATIO = 0.25
SPREAD_IMAGES = 64  # images used for the pairwise distances


def per_image_l1(outputs, inputs):
    """Mean absolute difference per image: [B]."""
    return np.mean(np.abs(outputs - inputs), axis=(1, 2, 3))


def per_image_psnr(outputs, inputs):
    """PSNR per image in dB for images in [−1, 1] (peak-to-peak 2, the same as 255 on uint8)."""
    mse = np.mean(np.square(outputs - inputs), axis=(1, 2, 3))
    return 10.0 * np.log10(4.0 / np.maximum(mse, 1e-10))


def mean_pairwise_l1(images):
    """Mean per-pixel L1 distance over all pairs of distinct images."""
    flat = images.reshape(len(images), -1)
    n = len(flat)
    if n < 2:
        return float("nan")
    total = sum(np.abs(flat[i + 1:] - flat[i]).mean(axis=1).sum() for i in range(n - 1))
    return float(total / (n * (n - 1) / 2))


def spread_ratio(outputs, inputs):
    """Mean pairwise L1 among the outputs over that among their inputs (1: as varied as the
    inputs, 0: one image for every input)."""
    spread_in = mean_pairwise_l1(inputs)
    return mean_pairwise_l1(outputs) / spread_in if spread_in > 0 else float("nan")


IDENTITY_SIDE = 16  # identity_share compares images at this size


def area_matrix(size, side):
    """[side, size]: row i averages the input pixels under output pixel i (area resampling)."""
    scale = size / side
    matrix = np.zeros((side, size))
    for i in range(side):
        lo, hi = i * scale, (i + 1) * scale
        for j in range(int(np.floor(lo)), min(size, int(np.ceil(hi)))):
            matrix[i, j] = (min(hi, j + 1) - max(lo, j)) / scale
    return matrix


def identity_codes(images, side=IDENTITY_SIDE):
    """Per image: grayscale, area-resized to side x side, minus its mean, over its std, flattened: [B, side²]."""
    images = np.asarray(images, np.float64)
    gray = images @ np.array([0.299, 0.587, 0.114])
    rows, cols = area_matrix(gray.shape[1], side), area_matrix(gray.shape[2], side)
    small = np.einsum("ij,bjk,lk->bil", rows, gray, cols).reshape(len(images), -1)
    small = small - small.mean(axis=1, keepdims=True)
    return small / np.maximum(small.std(axis=1, keepdims=True), 1e-8)


def identity_share(outputs, inputs):
    """Share of the outputs whose nearest input (highest correlation of identity_codes) is their
    own input: 1 for a generator that keeps who is in the picture, about 1/B for one fixed image
    whatever the input."""
    if len(inputs) == 0:
        return float("nan")
    correlation = identity_codes(outputs) @ identity_codes(inputs).T
    return float(np.mean(np.argmax(correlation, axis=1) == np.arange(len(outputs))))


# An output has "lost identity" when fewer than this share of its images are nearest to their own input.
IDENTITY_MIN = 0.5


def integrity(outputs, inputs):
    """What needs no classifier: is the output one face whatever the input (spread_ratio below
    COLLAPSE_RATIO), and does it keep who is in the picture (identity_share at least IDENTITY_MIN)?"""
    ratio, identity = spread_ratio(outputs, inputs), identity_share(outputs, inputs)
    return {"spread_ratio": float(ratio), "collapsed": bool(ratio < COLLAPSE_RATIO),
            "identity": float(identity), "identity_lost": bool(identity < IDENTITY_MIN)}


class IntegrityTally:
    """Keeps the first SPREAD_IMAGES inputs and every output's edits of them, batch by batch."""

    def __init__(self, n_outputs):
        self.inputs, self.outputs = [], [[] for _ in range(n_outputs)]

    def add(self, inputs, outputs):
        room = max(0, SPREAD_IMAGES - sum(len(x) for x in self.inputs))
        self.inputs.append(inputs[:room])
        for kept, edits in zip(self.outputs, outputs):
            kept.append(edits[:room])

    def figures(self):
        """integrity() of every output, in output order."""
        inputs = np.concatenate(self.inputs)
        return [integrity(np.concatenate(edits), inputs) for edits in self.outputs]


def _mean(values):
    return float(np.mean(values)) if len(values) else float("nan")


def output_figures(a, t, predicted_in, predicted_out, classes, masks, l1, psnr, kept_whole):
    """The figures of the output editing group a towards class t, from NumPy arrays over the test images.

    predicted_in, predicted_out, classes: [N, groups] classes; masks: [N, groups] (1 = labelled);
    l1, psnr: [N] output vs input; kept_whole: its integrity() figures.
    """
    labelled = masks[:, a] > 0
    needed = labelled & (classes[:, a] != t)
    kept = labelled & (classes[:, a] == t)
    hit = predicted_out[:, a] == t
    others = [g for g in range(predicted_in.shape[1]) if g != a]
    same = predicted_out[:, others] == predicted_in[:, others]
    return {
        "success": _mean(hit), "success_needed": _mean(hit[needed]), "needed": int(needed.sum()),
        "preservation": _mean(same.ravel()) if others else float("nan"),
        "l1": _mean(l1), "l1_kept": _mean(l1[kept]), "psnr_kept": _mean(psnr[kept]), "kept": int(kept.sum()),
        **kept_whole,
    }


class JudgeTally:
    """Collects, batch by batch, what output_figures needs for every output (outputs.Output list)."""

    def __init__(self, outputs):
        self.outputs = outputs
        self.n_outputs = len(outputs)
        self.pred_in, self.classes, self.masks = [], [], []
        self.pred_out = [[] for _ in range(self.n_outputs)]
        self.l1 = [[] for _ in range(self.n_outputs)]
        self.psnr = [[] for _ in range(self.n_outputs)]
        self.integrity = IntegrityTally(self.n_outputs)

    def add(self, inputs, outputs, predicted_in, predicted_out, classes, masks):
        """One batch: inputs [B, s, s, 3], outputs (list per output) and the classifier's predictions."""
        self.pred_in.append(predicted_in)
        self.classes.append(classes)
        self.masks.append(masks)
        self.integrity.add(inputs, outputs)
        for k in range(self.n_outputs):
            self.pred_out[k].append(predicted_out[k])
            self.l1[k].append(per_image_l1(outputs[k], inputs))
            self.psnr[k].append(per_image_psnr(outputs[k], inputs))

    def accuracy_real(self):
        """Per group: the classifier's accuracy on the labelled real inputs (nan: none labelled)."""
        predicted, classes = np.concatenate(self.pred_in), np.concatenate(self.classes)
        labelled = np.concatenate(self.masks) > 0
        hits, counts = ((predicted == classes) & labelled).sum(0), labelled.sum(0)
        return [float(h / c) if c else float("nan") for h, c in zip(hits, counts)]

    def figures(self):
        """A list with output_figures of every output."""
        cat = np.concatenate
        pred_in, classes, masks = cat(self.pred_in), cat(self.classes), cat(self.masks)
        return [output_figures(o.group, o.target, pred_in, cat(self.pred_out[k]), classes, masks, cat(self.l1[k]),
                               cat(self.psnr[k]), kept_whole)
                for (k, o), kept_whole in zip(enumerate(self.outputs), self.integrity.figures())]
