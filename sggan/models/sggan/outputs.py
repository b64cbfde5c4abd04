"""Which generator output edits which group towards which class: the one place that says so.

A two-class group a emits x_{a,1} (the attribute on, class 1) and then x_{a,0} (off, class 0) —
the original's order. A group of K >= 3 classes emits one output per class, in class order.
Each output is reconstructed from every other output of its group: G(x_{a,c'})'s head for
(a, c) must give x_{a,c} back, for each c' != c (for two classes: the other output, as the original).
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Output:
    index: int        # position in the generator's list of outputs
    group: int        # attribute group it edits
    target: int       # class the edit should have (two-class groups: 1 = on, 0 = off)
    partners: tuple   # indices of the outputs it is reconstructed from (the rest of its group)
    title: str        # readable name, e.g. "Blond Hair", "not Male", "age 20-39"


def class_order(n_classes):
    """The classes of a group in output order: on before off for two classes, else ascending."""
    return (1, 0) if n_classes == 2 else tuple(range(n_classes))


def output_layout(groups):
    """The generator's outputs for these groups (attribute_groups.Group), in order."""
    outputs = []
    for a, group in enumerate(groups):
        first, order = len(outputs), class_order(group.n_classes)
        indices = range(first, first + len(order))
        for k, target in zip(indices, order):
            title = group.class_names[target].replace("_", " ")
            outputs.append(Output(k, a, target, tuple(i for i in indices if i != k), title))
    return outputs


def group_outputs(outputs, group):
    """The outputs of one group, in output order."""
    return [o for o in outputs if o.group == group]


@dataclass(frozen=True)
class GroupShape:
    """What a trained model knows of a group without the data: its notation and class names
    (recorded in config.json as `group_classes`); offers what output_layout and the reports use."""
    spec: str
    class_names: tuple

    @property
    def n_classes(self):
        return len(self.class_names)


def recorded_groups(groups):
    """config.json's `group_classes` entry for these groups (attribute_groups.Group or GroupShape)."""
    return [{"spec": g.spec, "classes": list(g.class_names)} for g in groups]


def groups_from_record(record):
    """The GroupShapes of a config.json `group_classes` entry."""
    return [GroupShape(entry["spec"], tuple(entry["classes"])) for entry in record]
