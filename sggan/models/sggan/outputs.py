"""Which generator output edits which group towards which class: the one place that says so.

For every group a the generator emits x_{a,1} (the attribute on, class 1) and then x_{a,2} (off,
class 0), so output 2a is (a, class 1) and output 2a + 1 is (a, class 0) — the original's order.
Each output's reconstruction partner is the other output of its group: G(partner)'s head for this
output must give this output back.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Output:
    index: int      # position in the generator's list of outputs
    group: int      # attribute group it edits
    target: int     # class the edit should have (1 = on, 0 = off)
    partner: int    # index of the output it is reconstructed from
    title: str      # readable name, e.g. "Blond Hair", "not Male"


def output_layout(groups):
    """The generator's outputs for these groups (celeba.Group), in order."""
    outputs = []
    for a, group in enumerate(groups):
        on, off = group.class_names
        first = len(outputs)
        outputs.append(Output(first, a, 1, first + 1, on.replace("_", " ")))
        outputs.append(Output(first + 1, a, 0, first, off.replace("_", " ")))
    return outputs
