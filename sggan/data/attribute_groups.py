"""Attribute groups: the notation (`Male`, `Black_Hair/Blond_Hair`, `A/B/C-D`, `age=0-19,20-`) and
the rule that gives every image of an attribute table its class and whether it is labelled."""
import difflib
from dataclasses import dataclass

import numpy as np

from sggan.errors import UserError


@dataclass(frozen=True)
class Group:
    """One attribute group (task): K >= 2 classes and the rule that labels an image.

    `Male` — class 1 where Male is +1, class 0 elsewhere, every image labelled.
    `Black_Hair/Blond_Hair` — class 0 where Black_Hair is +1, else class 1 where Blond_Hair is +1,
    else unlabelled (the original's rule: class 0 wins when both are set).
    `Black_Hair/Blond_Hair/Brown_Hair` (3+ names) — class i where exactly the i-th name is +1,
    else unlabelled. A suffix `-Gray_Hair` leaves images with Gray_Hair +1 unlabelled.
    `age=0-19,20-39,40-` — class i where the numeric column lies in the i-th bin (ends included,
    `40-` open, `3` one value), else unlabelled.
    """
    spec: str
    kind: str           # "single", "names" or "bins"
    columns: tuple      # single: (name,); names: one per class; bins: (column,)
    bins: tuple = ()    # bins: (low, high) per class, high None = no upper end
    exclude: tuple = ()
    titles: tuple = ()  # bins: display names of the classes when the values have names

    @property
    def n_classes(self):
        return len(self.columns) if self.kind == "names" else len(self.bins) if self.kind == "bins" else 2

    @property
    def of_names(self):
        """A choice among several attributes (labelled sparsely by --labelled_pair)."""
        return self.kind == "names"

    @property
    def class_names(self):
        """Display name of every class, in class order."""
        if self.kind == "single":
            return (f"not {self.columns[0]}", self.columns[0])
        if self.kind == "names":
            return self.columns
        return self.titles or tuple(f"{self.columns[0]} {_bin_text(low, high)}" for low, high in self.bins)

    def labels(self, table):
        """Per image: class (int32) and whether the image is labelled for this group."""
        if self.kind == "single":
            classes = (table.column(self.columns[0]) == 1).astype(np.int64)
            known = np.ones(len(table.files), dtype=bool)
        elif self.kind == "bins":
            value = table.column(self.columns[0])
            inside = np.stack([(value >= low) & (high is None or value <= high) for low, high in self.bins])
            known, classes = inside.any(0), np.argmax(inside, 0)
        else:
            is_set = np.stack([table.column(name) == 1 for name in self.columns])
            if len(self.columns) == 2:  # the original's rule: class 0 wins when both are set
                known, classes = is_set.any(0), np.where(is_set[0], 0, 1)
            else:
                known, classes = is_set.sum(0) == 1, np.argmax(is_set, 0)
        for name in self.exclude:
            known &= table.column(name) != 1
        return np.where(known, classes, 0).astype(np.int32), known


def _bin_text(low, high):
    return f"{low}-" if high is None else str(low) if high == low else f"{low}-{high}"


def parse_group(spec, names, value_names=None):
    """Read the group notation (see Group), checking every name against the attribute table.

    value_names: column → names of its values (a bin may then be a name: gender=male,female).
    """
    if "=" in spec:
        return _parse_bins(spec, names, (value_names or {}))
    main, *excluded = spec.split("-")
    parts = main.split("/")
    if not all(parts) or not all(excluded) or len(set(parts)) != len(parts):
        raise UserError(f"attribute group {spec!r} is not of the form NAME or A/B/…, optionally "
                        "followed by -C (e.g. Black_Hair/Blond_Hair-Brown_Hair), or NAME=BINS (e.g. age=0-19,20-)")
    for name in parts + excluded:
        _check_name(name, spec, names)
    kind = "names" if len(parts) > 1 else "single"
    return Group(spec, kind, tuple(parts), exclude=tuple(excluded))


def _parse_bins(spec, names, value_names):
    """`column=low-high,low-,value,…` → a bins group; bins must not overlap."""
    column, _, text = spec.partition("=")
    _check_name(column, spec, names)
    known = list(value_names.get(column, ()))
    bins, titles = [], []
    for token in text.split(","):
        token = token.strip()
        if token in known:
            bins.append((known.index(token), known.index(token)))
            titles.append(token)
            continue
        low, dash, high = token.partition("-")
        try:
            bin_ = (int(low), None if dash and not high else int(high or low))
        except ValueError:
            named = f" or one of {', '.join(known)}" if known else ""
            raise UserError(f"group {spec!r}: bin {token!r} is not LOW-HIGH, LOW- or VALUE (whole numbers){named}")
        if bin_[1] is not None and bin_[1] < bin_[0]:
            raise UserError(f"group {spec!r}: bin {token!r} ends before it starts")
        bins.append(bin_)
    if len(bins) < 2:
        raise UserError(f"group {spec!r} needs at least two bins (e.g. {column}=0-19,20-)")
    ordered = sorted(bins)
    for (_, high), (low, _) in zip(ordered, ordered[1:]):
        if high is None or high >= low:
            raise UserError(f"group {spec!r}: bins overlap")
    titles = tuple(titles) if len(titles) == len(bins) else ()
    return Group(spec, "bins", (column,), tuple(bins), titles=titles)


def _check_name(name, spec, names):
    if name not in names:
        close = difflib.get_close_matches(name, names, n=3)
        hint = f"did you mean {', '.join(close)}?" if close else f"valid names: {' '.join(names)}"
        raise UserError(f"unknown attribute {name!r} in group {spec!r}; {hint}")
