"""Laws of multi-head attention (DESIGN §4, Theorems 4.3 and 4.4).

Queries and keys enter the scores only through ``Q_h R_m K_gᵀ`` (``R_m`` the RoPE
rotation at relative position ``m``, the identity without RoPE), so every invertible
``A`` that commutes with all ``R_m`` is a symmetry ``(Q_h A, K_g A^{−T})``; values
and outputs enter through ``V_g O_h``, with the symmetry ``(V_g B, B^{−1} O_h)``.
The symmetric part of each symmetry algebra gives quadratic laws (Noether).

What is really true, where it differs from the paper's formulas (all certified by
the rank certificate; see :func:`paper_law_count` for the formulas themselves):

- ``d_k`` (or ``d_v``) above what the fan-in allows: ``QᵀQ − KᵀK`` has rank at most
  ``2d`` (more generally ``d (H/G + 1)``), so fewer of its entries are independent
  (:func:`balance_rank`), e.g. 7 rather than 10 for ``d = 1, d_k = 4``.
- Sequence length 1: the softmax over one key is constant, so ``Q`` and ``K`` get no
  gradient and each of their entries is conserved; the heads then act as one linear
  map ``x̃ Σ_h V_g O_h``, so the value/output laws couple the heads, and with grouped
  queries the outputs of one group move together (``O_h − O_h'`` is conserved).
- RoPE at a base where two frequencies coincide modulo ``2π`` (``base = 1``, or
  ``θ_j ≡ ±θ_k``), or a frequency is a multiple of ``π``: the commutant of the
  rotations grows from one ``aI + bJ`` block per pair to complex matrices on each
  class of equal angles (Hermitian laws, ``n²`` for ``n`` pairs in a class) or to all
  matrices on the pairs that every ``R_m`` fixes or flips (a full symmetric block).
  When a class of ``n`` complex pairs has ``n ≥ d (H/G + 1)``, the Lie algebra is the
  special unitary one and the determinant of the stacked complex queries and keys
  is conserved too. Its modulus is a function of the Hermitian form
  (``|det M|² = ±det(Mᴴ J M)``, ``J = diag(I, −I)``), so it is one more real law,
  its phase, which no symmetry of the form ``(Q A, K A^{−T})`` gives.
- Learned absolute encodings, the causal mask and the residual connection add no
  law and remove none (for sequence length at least 2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import product

import torch

from ..models.attention import MultiHeadAttention
from ..models.readout import AttentionClassifier
from .base import Law, LawSet, balance_rank, entries_law, predicted_laws, symmetric_law

# Two RoPE angles (radians, reduced modulo 2π) closer than this are treated as equal,
# and an angle this close to 0 or π as fixed or flipped. Angles computed in float64
# from a base chosen to make them coincide agree to ~1e-15; a near-coincidence that
# is not exact but is closer than ~1e-6 is invisible to the float64 certificate too.
ANGLE_TOL = 1e-9


@dataclass(frozen=True)
class FrequencyClass:
    """Pairs of RoPE coordinates that the rotations cannot tell apart.

    ``kind`` is ``"complex"`` (pairs rotating by the same angle ``±angle``; ``signs``
    is −1 for a pair that rotates backwards), ``"fixed"`` (angle ≡ 0: every ``R_m``
    is the identity on these pairs) or ``"flipped"`` (angle ≡ π: ``R_m = (−1)^m``).
    """

    kind: str
    pairs: tuple[int, ...]
    signs: tuple[int, ...]
    angle: float

    @property
    def columns(self) -> list[int]:
        """The ``2 n`` key coordinates of the class."""
        return [c for j in self.pairs for c in (2 * j, 2 * j + 1)]


def frequency_classes(frequencies) -> list[FrequencyClass]:
    """Group the RoPE pairs by their angle ``θ_j`` modulo ``2π`` (and sign).

    >>> [(c.kind, c.pairs) for c in frequency_classes([1.0, 0.1])]
    [('complex', (0,)), ('complex', (1,))]
    >>> [(c.kind, c.pairs, c.signs) for c in frequency_classes([1.0, 2 * math.pi - 1])]
    [('complex', (0, 1), (1, -1))]
    """
    two_pi = 2 * math.pi
    reps: list[tuple[str, float, list[int], list[int]]] = []
    for j, theta in enumerate(float(t) for t in frequencies):
        phi = math.fmod(theta, two_pi) % two_pi  # in [0, 2π)
        if min(phi, two_pi - phi) < ANGLE_TOL:
            kind, angle, sign = "fixed", 0.0, 1
        elif abs(phi - math.pi) < ANGLE_TOL:
            kind, angle, sign = "flipped", math.pi, 1
        else:
            kind = "complex"
            angle, sign = (phi, 1) if phi < math.pi else (two_pi - phi, -1)
        for k, a, pairs, signs in reps:
            if k == kind and abs(a - angle) < ANGLE_TOL:
                pairs.append(j)
                signs.append(sign)
                break
        else:
            reps.append((kind, angle, [j], [sign]))
    return [FrequencyClass(k, tuple(p), tuple(s), a) for k, a, p, s in reps]


def complex_balance_rank(n: int, rows: int) -> int:
    """Dimension of ``{Z_Qᴴ Z_Q − Z_Kᴴ Z_K}`` (Hermitian ``n × n``) for complex
    ``Z_Q, Z_K`` with ``rows`` rows in all: rank ``k = min(n, rows)``, and the
    Hermitian matrices of rank ``k`` have real dimension ``2kn − k²``.

    >>> complex_balance_rank(2, 6), complex_balance_rank(4, 2)
    (4, 12)
    """
    k = min(n, rows)
    return 2 * k * n - k * k


# ------------------------------------------------------------------- building blocks
def _names(model: MultiHeadAttention, g: int) -> dict[str, str]:
    """Display names of the blocks of group ``g`` (one head, or a sum over heads)."""
    r = model.heads_per_group
    if r == 1:
        h = g
        return {
            "gram": f"Q{h}ᵀQ{h} − K{g}ᵀK{g}",
            "pair": f"‖Q{h}[:,pair]‖² − ‖K{g}[:,pair]‖²",
            "herm": f"Q{h}ᴴQ{h} − K{g}ᴴK{g}",
            "det": f"det[Q{h}; K{g}]",
            "value": f"V{g}ᵀV{g} − O{h}O{h}ᵀ",
        }
    s = f"Σ_{{h∈g{g}}} "
    return {
        "gram": f"{s}Q_hᵀQ_h − K{g}ᵀK{g}",
        "pair": f"{s}‖Q_h[:,pair]‖² − ‖K{g}[:,pair]‖²",
        "herm": f"{s}Q_hᴴQ_h − K{g}ᴴK{g}",
        "det": f"det[Q_h for h∈g{g}; K{g}]",
        "value": f"V{g}ᵀV{g} − {s}O_hO_hᵀ",
    }


def _entry(name: str) -> str:
    """The ``symmetric_law`` label template ``name[{i},{j}]`` (braces escaped)."""
    return "(" + name.replace("{", "{{").replace("}", "}}") + ")[{i},{j}]"


def _query_key_gram(p, model: MultiHeadAttention) -> torch.Tensor:
    """``Σ_{h∈g} Q_hᵀQ_h − K_gᵀK_g`` for every group, shape ``(G, d_k, d_k)``."""
    G, r, d, dk = model.kv_groups, model.heads_per_group, model.d, model.d_k
    q = p["Q"].reshape(G, r, d, dk)  # (G, H/G, d, d_k)
    gram_q = torch.einsum("grdk,grdl->gkl", q, q)
    gram_k = torch.einsum("gdk,gdl->gkl", p["K"], p["K"])
    return gram_q - gram_k


def _value_output_gram(p, model: MultiHeadAttention) -> torch.Tensor:
    """``V_gᵀV_g − Σ_{h∈g} O_hO_hᵀ`` for every group, shape ``(G, d_v, d_v)``."""
    G, r, dv, d = model.kv_groups, model.heads_per_group, model.d_v, model.d
    o = p["O"].reshape(G, r, dv, d)  # (G, H/G, d_v, d)
    gram_v = torch.einsum("gdv,gdw->gvw", p["V"], p["V"])
    gram_o = torch.einsum("grvd,grwd->gvw", o, o)
    return gram_v - gram_o


def _pair_traces(delta: torch.Tensor, pairs: list[int]) -> torch.Tensor:
    """``Δ[2j,2j] + Δ[2j+1,2j+1]`` for each pair ``j``, shape ``(len(pairs),)``."""
    idx = torch.tensor(pairs)
    return delta[2 * idx, 2 * idx] + delta[2 * idx + 1, 2 * idx + 1]


def _hermitian_entries(delta: torch.Tensor, cls: FrequencyClass) -> torch.Tensor:
    """Real and imaginary parts of the Hermitian form of a complex class.

    With ``z_j = q_{2j} + i s_j q_{2j+1}`` the form is ``Σ z̄_j z_k`` over queries minus
    keys; in terms of ``Δ = QᵀQ − KᵀK`` its entries are, for ``j ≤ k``,
    ``Re = Δ[2j,2k] + s_j s_k Δ[2j+1,2k+1]`` and, for ``j < k``,
    ``Im = s_k Δ[2j,2k+1] − s_j Δ[2j+1,2k]``. Shape ``(n²,)``.
    """
    out = []
    items = list(zip(cls.pairs, cls.signs))
    for a, (j, sj) in enumerate(items):
        for k, sk in items[a:]:
            out.append(delta[2 * j, 2 * k] + sj * sk * delta[2 * j + 1, 2 * k + 1])
    for a, (j, sj) in enumerate(items):
        for k, sk in items[a + 1 :]:
            out.append(sk * delta[2 * j, 2 * k + 1] - sj * delta[2 * j + 1, 2 * k])
    return torch.stack(out)


def _class_determinant(p, model, g: int, cls: FrequencyClass) -> torch.Tensor:
    """``(Re, Im)`` of ``det Z``, ``Z`` the stacked complex queries of group ``g``
    and its keys on the first ``d (H/G + 1)`` pairs of ``cls``; shape ``(2,)``."""
    r, d = model.heads_per_group, model.d
    q = p["Q"][g * r : (g + 1) * r].reshape(r * d, model.d_k)  # (H/G · d, d_k)
    rows = torch.cat([q, p["K"][g]])  # (d (H/G + 1), d_k)
    n = rows.shape[0]
    pairs = torch.tensor(cls.pairs[:n])
    signs = torch.tensor(cls.signs[:n], dtype=rows.dtype)
    z = torch.complex(rows[:, 2 * pairs], rows[:, 2 * pairs + 1] * signs)  # (n, n)
    det = torch.linalg.det(z)
    return torch.stack([det.real, det.imag])


# --------------------------------------------------------------------------- law sets
def query_key_laws(model: MultiHeadAttention) -> LawSet:
    """Per key–value group, the laws of the queries and keys (sequence length ≥ 2).

    Without RoPE: ``Σ_{h∈g} Q_hᵀQ_h − K_gᵀK_g`` (per head for plain attention).
    With RoPE: per frequency pair ``‖Q_h[:,2j:2j+2]‖² − ‖K_h[:,2j:2j+2]‖²``, and the
    larger blocks of :func:`frequency_classes` where frequencies coincide.
    """
    r, d, dk = model.heads_per_group, model.d, model.d_k
    rows = d * (r + 1)
    laws: list[Law] = []
    for g in range(model.kv_groups):
        names = _names(model, g)

        def gram(p, g=g):
            return _query_key_gram(p, model)[g]

        if model.pe != "rope":
            name = names["gram"]
            independent = balance_rank(dk, r * d, d)
            laws.append(symmetric_law(name, gram, dk, _entry(name), independent))
            continue
        classes = frequency_classes(model.frequencies)
        single = [
            c.pairs[0] for c in classes if c.kind == "complex" and len(c.pairs) == 1
        ]
        if single:

            def traces(p, gram=gram, pairs=single):
                return _pair_traces(gram(p), pairs)

            name = names["pair"]
            labels = [name.replace("pair", f"{2 * j}:{2 * j + 2}") for j in single]
            laws.append(entries_law(name, traces, labels))
        for cls in classes:
            if cls.kind == "complex" and len(cls.pairs) == 1:
                continue
            pairs = ",".join(map(str, cls.pairs))
            if cls.kind == "complex":

                def herm(p, gram=gram, cls=cls):
                    return _hermitian_entries(gram(p), cls)

                name = f"Hermitian ({names['herm']}) on pairs {pairs}"
                n = len(cls.pairs)
                ps = cls.pairs
                labels = [
                    f"Re {name}[{j},{k}]" for a, j in enumerate(ps) for k in ps[a:]
                ] + [
                    f"Im {name}[{j},{k}]" for a, j in enumerate(ps) for k in ps[a + 1 :]
                ]
                count = complex_balance_rank(n, rows)
                laws.append(Law(name, herm, "entries", tuple(labels), count))
                if n >= rows:

                    def det(p, g=g, cls=cls):
                        return _class_determinant(p, model, g, cls)

                    name = f"{names['det']} (complex, pairs {pairs})"
                    labels = (f"Re {name}", f"Im {name}")
                    laws.append(Law(name, det, "entries", labels, 1))
            else:
                cols = torch.tensor(cls.columns)

                def block(p, gram=gram, cols=cols):
                    return gram(p)[cols][:, cols]

                where = ",".join(map(str, cls.columns))
                name = f"{names['gram']} on columns {where} ({cls.kind} pairs {pairs})"
                n = len(cols)
                count = balance_rank(n, r * d, d)
                laws.append(symmetric_law(name, block, n, _entry(name), count))
    return LawSet(tuple(laws), "query–key change of basis")


def value_output_laws(model: MultiHeadAttention) -> LawSet:
    """Per group ``V_gᵀV_g − Σ_{h∈g} O_hO_hᵀ`` (sequence length ≥ 2)."""
    r, d, dv = model.heads_per_group, model.d, model.d_v
    laws = []
    for g in range(model.kv_groups):

        def gram(p, g=g):
            return _value_output_gram(p, model)[g]

        name = _names(model, g)["value"]
        count = balance_rank(dv, d, r * d)
        laws.append(symmetric_law(name, gram, dv, _entry(name), count))
    return LawSet(tuple(laws), "value–output change of basis")


def single_token_laws(model: MultiHeadAttention) -> LawSet:
    """Laws at sequence length 1, where attention is the linear map ``x̃ Σ_h V_g O_h``.

    Every entry of ``Q`` and ``K`` (no gradient reaches them); with ``V_cat`` the
    ``(d, G d_v)`` concatenation of the ``V_g`` and ``O_j`` the ``(G d_v, d)`` stack
    of the ``j``-th output of every group, ``V_catᵀV_cat − Σ_j O_j O_jᵀ``; and, with
    more than one head per group, ``O_h − O_{h₀}`` for every head ``h`` of a group
    whose first head is ``h₀`` (the heads of a group get the same gradient).
    """
    G, r, d, dv = model.kv_groups, model.heads_per_group, model.d, model.d_v
    laws = []
    for name in ("Q", "K"):
        labels = [
            f"{name}[{a},{b},{c}]"
            for a, b, c in product(*map(range, model.shapes[name]))
        ]
        laws.append(entries_law(name, lambda p, name=name: p[name].reshape(-1), labels))

    def gram(p):
        v = p["V"].permute(1, 0, 2).reshape(d, G * dv)  # (d, G d_v)
        o = p["O"].reshape(G, r, dv, d).permute(1, 0, 2, 3).reshape(r, G * dv, d)
        return v.T @ v - torch.einsum("rvd,rwd->vw", o, o)  # (G d_v, G d_v)

    name = "V_catᵀV_cat − Σ_j O_jO_jᵀ (heads coupled)"
    count = balance_rank(G * dv, d, d)
    laws.append(symmetric_law(name, gram, G * dv, _entry(name), count))
    if r > 1:

        def diffs(p):
            o = p["O"].reshape(G, r, dv, d)  # (G, H/G, d_v, d)
            return (o[:, 1:] - o[:, :1]).reshape(-1)

        name = "O_h − O_{first head of its group}"
        labels = [
            f"(O{g * r + j} − O{g * r})[{a},{b}]"
            for g in range(G)
            for j in range(1, r)
            for a in range(dv)
            for b in range(d)
        ]
        laws.append(entries_law(name, diffs, labels))
    return LawSet(tuple(laws), "sequence length 1: constant softmax")


def attention_laws(model: MultiHeadAttention) -> LawSet:
    """All the conservation laws of ``model`` at a generic point (see module doc)."""
    if model.seq_len == 1:
        return single_token_laws(model)
    return query_key_laws(model) + value_output_laws(model)


@predicted_laws.register
def _(model: MultiHeadAttention) -> LawSet:
    return attention_laws(model)


def readout_laws(model: AttentionClassifier) -> LawSet:
    """The read-out's law ``Σ_h O_hᵀO_h − WᵀW`` (``d × d``), without a residual.

    Pooling is linear, so ``(O_h C for every head, W C^{−T})`` with one invertible
    ``C`` leaves the logits unchanged; the residual connection adds ``X̃ Wᵀ`` and
    breaks it. Empty with a residual connection.
    """
    block = model.attention
    if block.residual:
        return LawSet((), "")
    d, H, dv = block.d, block.heads, block.d_v

    def gram(p):
        o = p["O"]  # (H, d_v, d)
        return torch.einsum("hvd,hve->de", o, o) - p["W"].T @ p["W"]  # (d, d)

    name = "Σ_h O_hᵀO_h − WᵀW"
    count = balance_rank(d, H * dv, model.classes)
    return LawSet((symmetric_law(name, gram, d, _entry(name), count),), "read-out")


def classifier_laws(model: AttentionClassifier) -> LawSet:
    """The block's laws (:func:`attention_laws`) and the read-out's."""
    return attention_laws(model.attention) + readout_laws(model)


@predicted_laws.register
def _(model: AttentionClassifier) -> LawSet:
    return classifier_laws(model)


def paper_laws(model: MultiHeadAttention) -> LawSet:
    """The laws of DESIGN §4's table, taken literally, at every size.

    Per group ``Σ_{h∈g} Q_hᵀQ_h − K_gᵀK_g`` (all ``d_k (d_k + 1) / 2`` entries counted
    as independent), or under RoPE the per-pair ``‖Q_h[:,pair]‖² − ‖K_h[:,pair]‖²``,
    and ``V_gᵀV_g − Σ_{h∈g} O_hO_hᵀ``. They are all conserved; at the edges of the
    module docstring the certificate reports them incomplete ("extra laws") or, when
    ``d_k`` or ``d_v`` exceeds the fan-in, "not independent".
    """
    dk, dv = model.d_k, model.d_v
    laws: list[Law] = []
    for g in range(model.kv_groups):
        names = _names(model, g)

        def qk(p, g=g):
            return _query_key_gram(p, model)[g]

        if model.pe == "rope":
            every = list(range(dk // 2))

            def traces(p, qk=qk, pairs=every):
                return _pair_traces(qk(p), pairs)

            name = names["pair"]
            labels = [
                name.replace("pair", f"{2 * j}:{2 * j + 2}") for j in range(dk // 2)
            ]
            laws.append(entries_law(name, traces, labels))
        else:
            name = names["gram"]
            laws.append(symmetric_law(name, qk, dk, _entry(name)))

        def vo(p, g=g):
            return _value_output_gram(p, model)[g]

        name = names["value"]
        laws.append(symmetric_law(name, vo, dv, _entry(name)))
    return LawSet(tuple(laws), "DESIGN §4 table, literally")


def paper_law_count(model: MultiHeadAttention) -> int:
    """The count of DESIGN §4's table (Theorems 4.3 and 4.4 and the GQA row).

    ``G (d_k (d_k + 1) / 2 + d_v (d_v + 1) / 2)``, with ``d_k / 2`` in place of the
    first term under RoPE (``G = H`` for plain attention). It ignores the edges
    listed in the module docstring; :func:`attention_laws` does not.

    >>> paper_law_count(MultiHeadAttention(4, 2, 4, 2, 8, pe="rope"))
    10
    """
    return paper_laws(model).count


__all__ = [
    "ANGLE_TOL",
    "FrequencyClass",
    "attention_laws",
    "classifier_laws",
    "complex_balance_rank",
    "frequency_classes",
    "paper_law_count",
    "paper_laws",
    "query_key_laws",
    "readout_laws",
    "single_token_laws",
    "value_output_laws",
]
