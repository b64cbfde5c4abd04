"""Faces in whole photos: find them (MTCNN), align them as the training images were, paste edits back.

A landmark *template* says where the five landmarks (eyes, nose, mouth corners) sit in a model
input, as fractions of its side: for CelebA-format data, CelebA's aligned positions moved into the
model's crop (celeba_template); for other data, measured on its training images (a model's run
records it in the experiment). A face is aligned by the similarity transform (rotation, scale,
shift) that best maps its landmarks onto the template scaled to the model's size (least squares),
and its edit goes back by the inverse transform with a soft elliptical mask: photo pixels outside
the mask are returned unchanged.
"""
import numpy as np
from PIL import Image

from sggan.errors import UserError

# Landmarks of CelebA's aligned faces in the 178 x 218 frame (x, y): left eye, right eye, nose,
# left and right mouth corner ("left" = image left); see README, "Real photos".
CELEBA_LANDMARKS = np.array([[69, 111], [108, 111], [88, 136], [72, 152], [105, 152]], np.float64)
MASK_AXES = (0.40, 0.46)   # the mask ellipse's half-axes as fractions of the square's side
MASK_FEATHER = 0.15        # share of the ellipse's radius over which the mask fades to 0
MIN_CONFIDENCE = 0.9       # MTCNN face score below which a detection is ignored
KEYPOINTS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


def celeba_template(crop):
    """CelebA's landmark positions inside a square crop (top, left, side, side) of its 178 x 218
    frame, as fractions of the side: [5, 2] (x, y)."""
    top, left, side, _ = crop
    return (CELEBA_LANDMARKS - [left, top] + 0.5) / side


def target_landmarks(template, size):
    """The template's landmark positions in a size x size model input; pixel centres at whole numbers."""
    return np.asarray(template, np.float64) * size - 0.5


def similarity(source, target):
    """The 2x3 matrix A of the similarity transform minimising Σ |A·[s, 1] − t|² (Umeyama)."""
    source, target = np.asarray(source, np.float64), np.asarray(target, np.float64)
    mu_s, mu_t = source.mean(0), target.mean(0)
    s, t = source - mu_s, target - mu_t
    u, sigma, vt = np.linalg.svd(t.T @ s / len(s))
    d = np.diag([1.0, np.sign(np.linalg.det(u @ vt))])
    rotation = u @ d @ vt
    scale = np.trace(np.diag(sigma) @ d) / s.var(0).sum()
    matrix = scale * rotation
    return np.hstack([matrix, (mu_t - matrix @ mu_s)[:, None]])


def invert(affine):
    """The inverse of a 2x3 affine matrix."""
    full = np.vstack([affine, [0.0, 0.0, 1.0]])
    return np.linalg.inv(full)[:2]


def apply(affine, points):
    return np.asarray(points, np.float64) @ affine[:, :2].T + affine[:, 2]


def _warp(image, affine_out_to_in, size):
    """PIL's affine warp: output pixel centre (x, y) samples input at affine·(x, y) (pixel centres)."""
    a = affine_out_to_in.copy()
    a[:, 2] += 0.5 - 0.5 * (a[:, 0] + a[:, 1])  # PIL puts pixel centres at +0.5
    return Image.fromarray(image).transform(size, Image.AFFINE, tuple(a.ravel()), resample=Image.BILINEAR)


def align(photo, landmarks, size, template):
    """The face as a size x size uint8 image aligned to the template, and the photo→face transform."""
    forward = similarity(landmarks, target_landmarks(template, size))
    scale = np.sqrt(abs(np.linalg.det(forward[:, :2])))
    source, pre = photo, 1.0
    if scale < 0.5:  # shrink the photo first (anti-aliased) so that the warp does not skip pixels
        pre = 2 * scale
        height, width = photo.shape[:2]
        shrunk = (max(1, round(width * pre)), max(1, round(height * pre)))
        source = np.asarray(Image.fromarray(photo).resize(shrunk, Image.LANCZOS))
        pre = shrunk[0] / width
    back = invert(forward) * pre  # face pixel → (shrunk) photo pixel
    return np.asarray(_warp(source, back, (size, size))), forward


def face_mask(points, size):
    """Soft mask (0..1) of the face ellipse at face-frame coordinates `points` [..., 2]; 0 outside."""
    centre = size / 2.0
    rx, ry = (MASK_AXES[0] * size, MASK_AXES[1] * size)
    r = np.sqrt(((points[..., 0] + 0.5 - centre) / rx) ** 2 + ((points[..., 1] + 0.5 - centre) / ry) ** 2)
    ramp = np.clip((1.0 - r) / MASK_FEATHER, 0.0, 1.0)
    return ramp * ramp * (3 - 2 * ramp)  # smoothstep


def paste(photo, edit, forward):
    """The photo with the edited face (size x size uint8, aligned by `forward`) blended back in.

    Only pixels inside the mask change; every other pixel keeps its exact value.
    """
    size = edit.shape[0]
    height, width = photo.shape[:2]
    corners = apply(invert(forward), [[0, 0], [size, 0], [0, size], [size, size]])
    x0, y0 = np.maximum(np.floor(corners.min(0)).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(corners.max(0)).astype(int), [width, height])
    result = photo.copy()
    if x1 <= x0 or y1 <= y0:
        return result
    ys, xs = np.mgrid[y0:y1, x0:x1]
    in_face = apply(forward, np.stack([xs, ys], -1).reshape(-1, 2)).reshape(ys.shape + (2,))
    alpha = face_mask(in_face, size)[..., None]
    shift = np.hstack([np.eye(2), [[x0], [y0]]])
    region_to_face = forward @ np.vstack([shift, [0, 0, 1]])
    warped = np.asarray(_warp(edit, region_to_face, (x1 - x0, y1 - y0)), np.float64)
    region = result[y0:y1, x0:x1].astype(np.float64)
    blended = np.round(alpha * warped + (1 - alpha) * region).astype(np.uint8)
    inside = alpha[..., 0] > 0
    result[y0:y1, x0:x1][inside] = blended[inside]
    return result


class Detector:
    """MTCNN (the `mtcnn` package, whose weights ship inside its wheel): faces and five landmarks."""

    def __init__(self):
        try:
            from mtcnn import MTCNN
        except ImportError:
            raise UserError("aligning faces in --input photos needs the mtcnn package "
                            "(python3 -m pip install mtcnn), or pass --align false for pre-cropped faces")
        self.mtcnn = MTCNN()

    def landmarks(self, photo):
        """The five landmarks [5, 2] of every confident face, largest face first."""
        found = [f for f in self.mtcnn.detect_faces(photo) if f["confidence"] >= MIN_CONFIDENCE]
        found.sort(key=lambda f: -f["box"][2] * f["box"][3])
        return [np.array([f["keypoints"][k] for k in KEYPOINTS], np.float64) for f in found]


TEMPLATE_SAMPLE = 64     # training images a template is measured on
TEMPLATE_MIN_FACES = 16  # fewer faces found than this: the measurement is refused


def measure_template(squares, detector):
    """The landmark template of a data set: the median landmark positions (fractions of the side)
    of the largest face MTCNN finds in each of `squares` (uint8 model-frame squares, any size)."""
    found = []
    for square in squares:
        faces_found = detector.landmarks(square)
        if faces_found:
            found.append((faces_found[0] + 0.5) / square.shape[0])
    if len(found) < TEMPLATE_MIN_FACES:
        raise UserError(f"the landmark template of the training images could not be measured: faces found in "
                        f"{len(found)} of {len(squares)} images; give it as landmark_template in config.py")
    return np.median(np.stack(found), axis=0)
