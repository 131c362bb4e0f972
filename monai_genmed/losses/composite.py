"""A model's total loss as a weighted sum of named terms, assembled in a JSON config.

Generative models combine several losses: a VAE's reconstruction and KL terms (Kingma and Welling 2014,
https://arxiv.org/abs/1312.6114), with the KL weight beta (Higgins et al. 2017,
https://openreview.net/forum?id=Sy2fzU9gl) warmed up from 0; DAGAN's pixel, frequency, perceptual and
adversarial terms (Yang et al. 2018, https://doi.org/10.1109/TMI.2017.2785879). :class:`WeightedLossSum` writes
any such sum from parts, each term naming the loss, its weight (a number or a schedule of the training progress)
and which of the loss's inputs it reads, and returns every term by name so the trainer logs them.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from ignite.engine import Engine

from monai_genmed.utils.enums import GenerativeKeys

__all__ = ["LossTerm", "WeightedLossSum"]

#: a weight: a number, or a function of the engine state (``epoch``, ``iteration``, ...) giving one
Weight = float | Callable[[Any], float]


class LossTerm:
    """One named term of a :class:`WeightedLossSum`: ``weight * loss(*inputs)``.

    Args:
        loss: a callable returning a scalar tensor (``torch.nn.MSELoss()``, ``GaussianKLLoss()``, a bound method
            such as ``GANLoss("non_saturating").generator_loss``). A loss returning a dict of terms (e.g.
            :class:`~monai_genmed.losses.DAGANGeneratorLoss`) contributes its ``"total"``; its other entries are
            logged as ``<term>_<entry>``.
        weight: a number, or a callable of the engine state (:class:`~monai_genmed.losses.LinearWarmup`).
        inputs: names of the sum's inputs passed to ``loss``, in order (default: the sum's first two inputs,
            ``pred`` and ``target``).
        optional: when one of ``inputs`` is ``None`` (e.g. no discriminator logits while a generator is
            pre-trained or validated), the term is 0 instead of an error.
    """

    def __init__(
        self,
        loss: Callable[..., Any],
        weight: Weight = 1.0,
        inputs: Sequence[str] | None = None,
        optional: bool = False,
    ) -> None:
        if not callable(loss):
            raise TypeError(f"a loss term needs a callable loss, got {type(loss).__name__}.")
        if isinstance(inputs, str):
            raise TypeError(f"inputs is a list of input names; write [{inputs!r}].")
        if not callable(weight):
            weight = float(weight)
        self.loss, self.weight, self.optional = loss, weight, bool(optional)
        self.inputs = None if inputs is None else tuple(inputs)

    def __repr__(self) -> str:
        return f"LossTerm(loss={self.loss!r}, weight={self.weight!r}, inputs={self.inputs}, optional={self.optional})"


class WeightedLossSum(torch.nn.Module):
    """``total = sum_i weight_i * loss_i(inputs_i)``, returned with every unweighted term by name.

    Called with the inputs the caller has (by position, in the order of ``input_names``, or by keyword), each term
    takes the ones it names. As the loss of :class:`~monai_genmed.engines.ReconstructionObjective` around MONAI's
    ``VarAutoEncoder`` it is called as ``loss(pred, target, mu, logvar, z)``; a VAE with KL warm-up is::

        "loss": {
            "_target_": "monai_genmed.losses.WeightedLossSum",
            "input_names": ["pred", "target", "mu", "logvar", "z"],
            "terms": {
                "reconstruction": {"loss": {"_target_": "torch.nn.MSELoss"}, "weight": 4096,
                                   "inputs": ["pred", "target"]},
                "kl": {"loss": {"_target_": "monai_genmed.losses.GaussianKLLoss"}, "inputs": ["mu", "logvar"],
                       "weight": {"_target_": "monai_genmed.losses.LinearWarmup", "end": 1.0, "epochs": 5}}
            }
        }

    A weight that is a schedule reads the trainer's state: put the loss in the trainer's ``train_handlers`` (its
    :meth:`attach` keeps a weak reference to the engine), or pass ``state=`` when calling it.

    This is an ``nn.Module`` (its losses that are modules are submodules, so ``.to(device)`` moves e.g. a VGG
    feature network), not a ``_Loss``: each term reduces on its own and a ``reduction`` of the sum would mean
    nothing.

    Args:
        terms: name -> :class:`LossTerm` or its keyword dictionary; names must not be ``"total"``.
        input_names: names of the positional inputs, in order.
        log_weights: also return the current weight of every scheduled term as ``<name>_weight`` (the trainer
            logs it, so the warm-up is visible beside the losses).

    Returns (of ``forward``):
        ``{"total": ..., <name>: unweighted term, ...}`` of scalar tensors.
    """

    def __init__(
        self,
        terms: Mapping[str, LossTerm | Mapping[str, Any]],
        input_names: Sequence[str] = ("pred", "target"),
        log_weights: bool = False,
    ) -> None:
        super().__init__()
        if not terms:
            raise ValueError("WeightedLossSum needs at least one term.")
        self.input_names = tuple(input_names)
        if len(set(self.input_names)) != len(self.input_names):
            raise ValueError(f"input_names must be unique, got {list(self.input_names)}.")
        self.terms: dict[str, LossTerm] = {}
        for name, term in terms.items():
            if name == GenerativeKeys.TOTAL:
                raise ValueError("a term cannot be named 'total': that is the weighted sum.")
            term = term if isinstance(term, LossTerm) else LossTerm(**term)
            inputs = term.inputs if term.inputs is not None else self.input_names[:2]
            unknown = [i for i in inputs if i not in self.input_names]
            if unknown:
                raise ValueError(
                    f"loss term {name!r} reads inputs {unknown}, which are not among input_names "
                    f"{list(self.input_names)}."
                )
            term.inputs = tuple(inputs)
            self.terms[name] = term
        modules = {k: t.loss for k, t in self.terms.items() if isinstance(t.loss, torch.nn.Module)}
        self.losses = torch.nn.ModuleDict(modules)
        self.log_weights = bool(log_weights)
        self._engine: weakref.ReferenceType | None = None

    def attach(self, engine: Engine) -> None:
        """Read scheduled weights from ``engine.state`` from now on (the trainer calls this for its handlers)."""
        self._engine = weakref.ref(engine)

    @property
    def engine_state(self) -> Any:
        """The state of the engine this loss is attached to, or ``None``."""
        engine = None if self._engine is None else self._engine()
        return None if engine is None else engine.state

    def weight(self, name: str, state: Any = None) -> float:
        """The current weight of term ``name`` (a schedule evaluated at ``state``, default the attached engine's)."""
        weight = self.terms[name].weight
        if not callable(weight):
            return float(weight)
        state = self.engine_state if state is None else state
        if state is None:
            raise RuntimeError(
                f"loss term {name!r} has a scheduled weight ({weight!r}) but no training state to evaluate it on: add "
                'the loss to the trainer\'s train_handlers (e.g. "@loss"), pass state=..., or give a number.'
            )
        return float(weight(state))

    def forward(self, *args: Any, state: Any = None, **kwargs: Any) -> dict[str, torch.Tensor]:
        if len(args) > len(self.input_names):
            raise TypeError(
                f"WeightedLossSum takes at most {len(self.input_names)} inputs {list(self.input_names)}, "
                f"got {len(args)}."
            )
        values = dict(zip(self.input_names, args))
        clash = set(values) & set(kwargs)
        if clash:
            raise TypeError(f"inputs {sorted(clash)} were given both by position and by name.")
        values.update(kwargs)
        out: dict[str, torch.Tensor] = {}
        total: torch.Tensor | None = None
        for name, term in self.terms.items():
            missing = [i for i in term.inputs if i not in values]
            if missing:
                raise KeyError(f"loss term {name!r} needs inputs {missing}; the call gave {sorted(values)}.")
            inputs = [values[i] for i in term.inputs]
            weight = self.weight(name, state)
            if any(x is None for x in inputs):
                if not term.optional:
                    none = [i for i, x in zip(term.inputs, inputs) if x is None]
                    raise ValueError(
                        f"loss term {name!r} got None for {none}; mark the term optional to make it 0 then."
                    )
                reference = next((x for x in values.values() if isinstance(x, torch.Tensor)), None)
                value = torch.zeros(()) if reference is None else reference.new_zeros(())
            else:
                value = term.loss(*inputs)
                if isinstance(value, Mapping):
                    out.update({f"{name}_{k}": v for k, v in value.items() if k != GenerativeKeys.TOTAL})
                    value = value[GenerativeKeys.TOTAL]
            out[name] = value
            if self.log_weights and callable(term.weight):
                out[f"{name}_weight"] = value.new_tensor(weight)
            weighted = value * weight
            total = weighted if total is None else total + weighted
        out[GenerativeKeys.TOTAL.value] = total  # type: ignore[assignment]
        return out

    def extra_repr(self) -> str:
        return ", ".join(f"{k}: {t.weight!r} x {t.inputs}" for k, t in self.terms.items())
