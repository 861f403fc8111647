"""Gumbel MCTS: Gumbel-Top-k root sampling, Sequential Halving and completed Q-values.

Plain AlphaZero-style PUCT can get *worse* with more simulations when its value is noisy: visits
pile onto whatever the value overrates. Gumbel MuZero (Danihelka, Schrittwieser, Hubert and
Silver, "Policy improvement by planning with Gumbel", ICLR 2022) chooses the root action so that
the choice improves on the policy whatever the number of simulations:

1. **Gumbel-Top-k**: the root's candidate steps (proposals of the policy, duplicates merged)
   get Gumbel noise ``g(a)``; the ``k`` with the largest ``g(a) + logit(a)`` are considered,
   which is sampling ``k`` steps without replacement from the policy.
2. **Sequential Halving**: the move's simulations are split over ``ceil(log2 k)`` phases; in each
   phase every remaining step gets the same number of simulations, then the better half by
   ``g(a) + logit(a) + sigma(q(a))`` stays. The survivor is the move.
3. **Completed Q-values**: below the root a simulation follows the improved policy
   ``softmax(logit + sigma(completedQ))``, choosing ``argmax pi'(a) - N(a) / (1 + sum N)``;
   an unvisited step's Q is completed with the mixed value estimate ``v_mix``.

``sigma(q) = (c_visit + max_b N(b)) * c_scale * q``, with values in ``[0, 1]`` from any guidance
(a PRM, self-evaluation, log-prob, a function). The search moves to the chosen step, keeps its
subtree and plans the next move with the budget left; a verified answer ends it at once.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

from thinkgym.agents.base import Policy
from thinkgym.search.context import Candidate, SearchContext
from thinkgym.search.guidance import LogProbGuidance, with_aggregate
from thinkgym.search.planner import Outcome, Planner, merge_proposals, softmax
from thinkgym.search.requests import ScoreRequest
from thinkgym.search.selection import FINAL_RULES, choose_final
from thinkgym.search.tree import Node

__all__ = ["GumbelMCTS"]

_LOGIT_FLOOR = -1e3


class GumbelMCTS(Planner):
    """Gumbel MuZero's planning over reasoning steps (see the module docstring).

    Each move: the current root is expanded with ``root_samples`` proposals (once; its subtree
    is kept from earlier moves), the ``k`` best by ``g + logit`` are kept (Gumbel-Top-k), and the
    move's simulations run by Sequential Halving over them. One simulation descends from a root
    step by the completed-Q improved policy to a leaf, expands it with ``width`` proposals,
    evaluates the new children (guidance, or 1/0 for answers the task verifies or refutes without
    the reference, 0 for dead ends and truncated states) and backs their mean up. The move's
    simulations are the budget left divided by the steps still expected (``depth_hint`` minus the
    depth reached, at least 1), so the whole budget is spent over the moves.

    Args:
        policy: the policy.
        k: root steps considered (Gumbel-Top-k); at most the distinct proposals.
        root_samples: proposals asked at a root (default ``2 * k``).
        width: proposals per expansion below the root.
        guidance: the value: a PRM / reward model, a Guidance, a guidance name or a function
            (default :class:`~thinkgym.search.guidance.LogProbGuidance`).
        aggregate: PRM step-score aggregation (``None``: the guidance's own).
        c_visit: sigma's visit offset (50 in the paper).
        c_scale: sigma's scale (1 in the paper; values here are in ``[0, 1]``).
        simulations: simulations per move; ``None``: sized from the budget left at each move.
        depth_hint: expected steps of a solution (splits the budget over the moves); default the
            env's action limit.
        gumbel_scale: the Gumbel noise's scale (0: deterministic Top-k by log-prob).
        final: when the moves end without an answer (budget spent), how to pick among the
            answers found: ``"best"``, ``"vote"`` or ``"weighted_vote"``.
        **kwargs: see :class:`~thinkgym.search.planner.Planner`.
    """

    name = "gumbel_mcts"

    def __init__(
        self,
        policy: Policy,
        *,
        k: int = 8,
        root_samples: int | None = None,
        width: int = 4,
        guidance: Any = None,
        aggregate: str | None = None,
        c_visit: float = 50.0,
        c_scale: float = 1.0,
        simulations: int | None = None,
        depth_hint: int | None = None,
        gumbel_scale: float = 1.0,
        final: str = "best",
        **kwargs: Any,
    ) -> None:
        super().__init__(policy, guidance=guidance, **kwargs)
        for label, v in (("k", k), ("width", width)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{label}={v!r} must be a positive integer")
        for label, v in (("root_samples", root_samples), ("simulations", simulations)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise ValueError(f"{label}={v!r} must be a positive integer or None")
        if depth_hint is not None and depth_hint < 1:
            raise ValueError(f"depth_hint={depth_hint!r} must be >= 1 or None")
        for label, x in (
            ("c_visit", c_visit),
            ("c_scale", c_scale),
            ("gumbel_scale", gumbel_scale),
        ):
            if not math.isfinite(x) or x < 0:
                raise ValueError(f"{label}={x!r} must be a finite number >= 0")
        if final not in FINAL_RULES:
            raise ValueError(f"final={final!r} is not one of {FINAL_RULES}")
        self.k = int(k)
        self.root_samples = int(root_samples) if root_samples is not None else 2 * self.k
        self.width = int(width)
        self.guidance = with_aggregate(self.guidance or LogProbGuidance(), aggregate)
        self.c_visit = float(c_visit)
        self.c_scale = float(c_scale)
        self.simulations = simulations
        self.depth_hint = depth_hint
        self.gumbel_scale = float(gumbel_scale)
        self.final = final

    @classmethod
    def sizing(cls, policy_calls: int, depth: int) -> dict[str, Any]:
        """Root proposals (all considered: ``k = root_samples``) from 1 to 8 as the budget per
        step allows, ``width`` 2 (4 from 32 calls per step), the depth as the hint (each move's
        simulations come from the budget left)."""
        per_move = max(1, policy_calls // depth)
        root = max(2, min(8, per_move // 2)) if per_move >= 6 else per_move
        return {
            "k": root,
            "root_samples": root,
            "width": 4 if per_move >= 32 else 2,
            "depth_hint": depth,
        }

    # -- the improved policy
    def _sigma(self, q: float, max_visits: int) -> float:
        return (self.c_visit + max_visits) * self.c_scale * q

    @staticmethod
    def _logit(node: Node) -> float:
        return max(_LOGIT_FLOOR, node.logprob)

    def _completed_q(self, nodes: list[Node], parent: Node) -> list[float]:
        """Each child's Q, an unvisited one's completed with ``v_mix`` (Danihelka et al., eq. 33)."""
        kids = [nodes[c] for c in parent.children]
        prior = softmax([self._logit(n) for n in kids])
        visited = [(p, n.value) for p, n in zip(prior, kids, strict=True) if n.visits > 0]
        total_n = sum(n.visits for n in kids)
        v_hat = parent.score if parent.score is not None and math.isfinite(parent.score) else None
        if visited:
            mass = sum(p for p, _ in visited)
            weighted = sum(p * q for p, q in visited) / mass if mass > 0 else 0.0
            if v_hat is None:
                v_mix = weighted
            else:
                v_mix = (v_hat + total_n * weighted) / (1 + total_n)
        else:
            v_mix = v_hat if v_hat is not None else 0.5
        return [n.value if n.visits > 0 else v_mix for n in kids]

    def _descend(self, nodes: list[Node], start: int, closed: set[int]) -> list[int]:
        """The path from ``start`` to a leaf by the improved policy (non-root selection)."""
        path = [start]
        cur = nodes[start]
        while cur.children and not cur.terminal:
            kids = [nodes[c] for c in cur.children]
            q = self._completed_q(nodes, cur)
            max_n = max(n.visits for n in kids)
            improved = softmax(
                [self._logit(n) + self._sigma(v, max_n) for n, v in zip(kids, q, strict=True)]
            )
            total = sum(n.visits for n in kids)
            best, best_s = None, -math.inf
            for n, p in zip(kids, improved, strict=True):
                if n.id in closed:
                    continue
                s = p - n.visits / (1 + total)
                if s > best_s:
                    best, best_s = n, s
            if best is None:
                closed.add(cur.id)
                return path
            cur = best
            path.append(cur.id)
        return path

    # -- the search
    def search(self, ctx: SearchContext) -> Generator[Any, Any, Outcome]:
        """Moves by Sequential Halving until an answer is chosen, a verified one is found or the
        budget is spent."""
        tree = ctx.tree
        nodes = tree.nodes
        cands: dict[int, Candidate] = {0: Candidate(ctx.env, ctx.root, ctx.root, "")}
        closed: set[int] = set()
        root = 0
        moves: list[dict[str, Any]] = []
        sims_total = 0
        depth_hint = self.depth_hint or ctx.env.max_steps
        while not ctx.meter.exhausted:
            node = nodes[root]
            if node.terminal:  # a dead end or a truncated state: take the move back
                closed.add(root)
                if node.parent is None:
                    break
                root = node.parent
                continue
            if not node.children:
                found = yield from self._expand(ctx, cands, closed, [[root]], self.root_samples)
                if found is not None:
                    return self._result(ctx, found, moves, sims_total, verified=True)
                if not node.children:  # a dead root: take the move back
                    closed.add(root)
                    if node.parent is None:
                        break
                    root = node.parent
                    continue
            kids = [
                nodes[c]
                for c in node.children
                if c not in closed or _usable_answer(nodes[c])  # answers stay choosable
            ]
            if not kids:  # nothing left to search below this move: take it back
                closed.add(root)
                if node.parent is None:
                    break
                root = node.parent
                continue
            gumbel = [
                float(ctx.rng.gumbel()) * self.gumbel_scale if self.gumbel_scale > 0 else 0.0
                for _ in kids
            ]
            g = {n.id: gv + self._logit(n) for n, gv in zip(kids, gumbel, strict=True)}
            considered = sorted(g, key=lambda i: -g[i])[: self.k]
            sims = self._move_simulations(ctx, nodes[root].depth, depth_hint, len(considered))
            remaining = list(considered)
            phases = max(1, math.ceil(math.log2(len(remaining)))) if len(remaining) > 1 else 1
            spent = 0
            found = None
            for phase in range(phases):
                if len(remaining) == 1 and phase > 0:
                    break
                # 0 when the budget is tight: the halving then ranks by the children's values
                per = sims // (phases * len(remaining))
                for _ in range(per):
                    if ctx.meter.exhausted:
                        break
                    paths = []
                    for a in remaining:
                        if a in closed:  # an answer: its value is known
                            self._backup(nodes, [root, a], nodes[a].value, 1)
                            continue
                        paths.append([root, *self._descend(nodes, a, closed)])
                    if not paths:
                        continue
                    spent += len(paths)
                    found = yield from self._expand(ctx, cands, closed, paths, self.width)
                    if found is not None:
                        break
                if found is not None:
                    break
                max_n = max(nodes[a].visits for a in remaining)
                remaining.sort(key=lambda a: -(g[a] + self._sigma(nodes[a].value, max_n)))
                remaining = remaining[: max(1, math.ceil(len(remaining) / 2))]
                if ctx.meter.exhausted:
                    break
            sims_total += spent
            if found is not None:
                return self._result(ctx, found, moves, sims_total, verified=True)
            max_n = max(nodes[a].visits for a in remaining)
            choice = max(remaining, key=lambda a: g[a] + self._sigma(nodes[a].value, max_n))
            moves.append(
                {"node": choice, "visits": nodes[choice].visits, "considered": len(considered)}
            )
            root = choice
            st = nodes[root].state
            if st is not None and st.done:  # an answer not refuted (filtered above)
                return self._result(ctx, root, moves, sims_total, verified=False)
        return self._fallback(ctx, moves, sims_total)

    def _move_simulations(self, ctx: SearchContext, depth: int, hint: int, k: int) -> int:
        if self.simulations is not None:
            return self.simulations
        steps_left = max(1, hint - depth)
        left = ctx.meter.affordable(10**9)
        if left >= 10**9:  # no policy-call bound: two simulations per considered step
            return 2 * k
        return left // (steps_left * self.width)

    @staticmethod
    def _backup(nodes: list[Node], path: list[int], value: float, visits: int) -> None:
        for i in path:
            nodes[i].visits += visits
            nodes[i].value_sum += value * visits

    def _expand(
        self,
        ctx: SearchContext,
        cands: dict[int, Candidate],
        closed: set[int],
        paths: list[list[int]],
        n: int,
    ) -> Generator[Any, Any, int | None]:
        """Expand each path's leaf with ``n`` proposals, evaluate the new children, back up.

        Returns the id of a child the task verified without the reference (when ``early_stop``),
        else ``None``."""
        tree = ctx.tree
        nodes = tree.nodes
        obs = [ctx.env.transcript(nodes[p[-1]].state) for p in paths]
        props = yield from self.propose(ctx, obs, n)
        new: list[tuple[list[int], Candidate, Node]] = []
        for path, plist in zip(paths, props, strict=False):
            leaf = path[-1]
            if not plist:
                continue  # out of budget
            parent = cands[leaf]
            seen = {nodes[c].step for c in nodes[leaf].children}
            added = False
            for prop in merge_proposals(plist):
                ch = ctx.extend(parent, parent.state, prop)
                if not ch.accepted or ch.state.steps[-1] in seen:
                    continue
                seen.add(ch.state.steps[-1])
                node = tree.add_proposal(leaf, ch.state, ch.proposal)
                if not ch.state.done and ctx.out_of_steps(ch.state):
                    node.terminal = True
                cands[node.id] = ch
                new.append((path, ch, node))
                added = True
            if not added and not nodes[leaf].children:
                nodes[leaf].terminal = True  # a dead end
                closed.add(leaf)
                self._backup(nodes, path, 0.0, 1)
            kids = [nodes[c] for c in nodes[leaf].children]
            for kid, pr in zip(kids, softmax([k.logprob for k in kids]), strict=True):
                kid.prior = pr
        values = yield from self._values(ctx, new)
        by_leaf: dict[int, tuple[list[int], float, int]] = {}
        found = None
        for (path, ch, node), v in zip(new, values, strict=False):
            node.visits = 1
            node.value_sum = v
            node.score = v
            if node.terminal:
                closed.add(node.id)
            if found is None and self.is_done(ch, v):
                found = node.id
            p, s, k = by_leaf.get(path[-1], (path, 0.0, 0))
            by_leaf[path[-1]] = (p, s + v, k + 1)
        for path, s, k in by_leaf.values():
            self._backup(nodes, path, s / k, 1)
            leaf = nodes[path[-1]]
            if leaf.children and all(c in closed for c in leaf.children):
                closed.add(leaf.id)
        return found

    def _values(
        self, ctx: SearchContext, items: list[tuple[list[int], Candidate, Node]]
    ) -> Generator[Any, Any, list[float]]:
        values = [0.5] * len(items)
        todo = []
        for j, (_, c, node) in enumerate(items):
            if c.state.done and c.state.correct is not None:
                values[j] = 1.0 if c.state.correct else 0.0
            elif node.terminal and not c.state.done:
                values[j] = 0.0  # truncated
            else:
                todo.append(j)
        if todo:
            got = yield ScoreRequest(self.guidance, [items[j][1] for j in todo])
            for j, v in zip(todo, got, strict=False):
                values[j] = min(1.0, max(0.0, float(v))) if math.isfinite(v) else 0.0
        return values

    def _result(
        self,
        ctx: SearchContext,
        node_id: int,
        moves: list[dict[str, Any]],
        sims: int,
        *,
        verified: bool,
    ) -> Outcome:
        state = ctx.tree.nodes[node_id].state
        assert state is not None
        return Outcome(
            steps=list(state.steps),
            state=state,
            candidates=self._answers(ctx),
            info=self._info(ctx, moves, sims, "verified" if verified else "moves"),
        )

    def _fallback(self, ctx: SearchContext, moves: list[dict[str, Any]], sims: int) -> Outcome:
        """The budget ran out before a move chose an answer: pick among the answers found."""
        answered = [
            n
            for n in ctx.tree.nodes
            if n.state is not None and n.state.done and n.state.correct is not False
        ]
        if not answered:
            return Outcome([], None, info=self._info(ctx, moves, sims, "none"))
        k = choose_final(
            [n.state.answer or "" for n in answered],  # type: ignore[union-attr]
            [n.value for n in answered],
            [n.logprob / max(1, n.tokens) for n in answered],
            self.final,
            [n.count for n in answered],
        )
        best = answered[k]
        return Outcome(
            list(best.state.steps),  # type: ignore[union-attr]
            best.state,
            candidates=self._answers(ctx),
            info=self._info(ctx, moves, sims, self.final),
        )

    @staticmethod
    def _answers(ctx: SearchContext) -> list[dict[str, Any]]:
        return [
            {"node": n.id, "answer": n.state.answer, "solved": n.state.correct, "value": n.value}
            for n in ctx.tree.nodes
            if n.state is not None and n.state.done
        ]

    def _info(
        self, ctx: SearchContext, moves: list[dict[str, Any]], sims: int, how: str
    ) -> dict[str, Any]:
        return {
            "moves": moves,
            "simulations": sims,
            "nodes": len(ctx.tree.nodes),
            "chosen_by": how,
            "k": self.k,
        }


def _usable_answer(node: Node) -> bool:
    """Whether ``node`` is an answer the task did not refute (a move may end there)."""
    return node.state is not None and node.state.done and node.state.correct is not False
