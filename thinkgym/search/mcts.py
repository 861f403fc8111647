"""Monte-Carlo tree search over reasoning steps (PUCT, as in AlphaZero, with policy priors)."""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

from thinkgym.agents.base import Policy
from thinkgym.search.context import Candidate, SearchContext
from thinkgym.search.guidance import with_aggregate
from thinkgym.search.planner import Outcome, Planner, merge_proposals, softmax
from thinkgym.search.requests import ScoreRequest
from thinkgym.search.selection import FINAL_RULES, choose_final
from thinkgym.search.tree import Node

__all__ = ["MCTS"]

_UNBOUNDED = 10**9


class MCTS(Planner):
    """PUCT search over steps, with priors from the policy and values from guidance or rollouts.

    One *simulation* selects a leaf by PUCT (``Q + c_puct * P * sqrt(N_parent) / (1 + N)``),
    expands it with ``width`` proposals from the policy (duplicates merged; priors are the softmax
    of the proposals' log-probs), evaluates every new child and backs the values up. Up to
    ``leaves_per_call`` leaves are selected per round with a virtual loss, so their expansions
    share one policy call (and the rounds of all problems share it too).

    Leaf values, in ``[0, 1]``: an answer the task verifies or refutes without the reference
    scores 1 or 0; otherwise the ``guidance`` (a PRM/value model, self-evaluation, any
    function), or ``guidance="rollout"`` (one policy rollout from the child: 1 if it reaches a
    verified answer, 0 if refuted or stuck), or a constant 0.5 when ``guidance=None``. A
    non-finite value counts as 0. A leaf none of
    whose proposals is accepted, or one at the env's action limit, is a dead end worth 0.

    After ``simulations`` simulations the planner moves to a child of the root (most visits at
    ``temperature_final=0``, else sampled with ``N ** (1 / T)``), keeps that child's subtree
    (``reuse=True``: its visits and values carry over) and searches again. The search goes on
    until the budget cannot afford another expansion: a subtree with nothing left to search (only
    answers, dead ends and truncated states, no widening left) is *closed* and never selected, and
    a move into a closed subtree is taken back, so the calls go to its siblings. A verified answer
    found anywhere ends the search at once. With the answer check off, the answer is the one the
    most visited path ends in, else the answer with the best guidance value.

    Args:
        policy: the policy.
        simulations: simulations per move.
        width: proposals per expansion.
        c_puct: exploration constant.
        guidance: leaf values: a Guidance / reward model / function, ``"rollout"``, or ``None``.
        rollout_depth: longest rollout (default: the env's action limit).
        temperature_final: temperature of the move choice (0 = most visited).
        reuse: keep the chosen child's subtree between moves.
        leaves_per_call: leaves expanded per policy call (batched expansion with virtual loss).
        virtual_loss: visits of value 0 added to a selected path until its expansion returns.
        widening: progressive widening exponent: a node with N visits may have been asked for up
            to ``ceil(width * N ** widening)`` steps, so a node whose first proposals were all bad
            gets new ones (re-expansion asks the policy again; ``0`` turns widening off). Steps
            asked count, not distinct children, so proposals that merge do not trigger widening.
        final: with no verified answer, how the answer is chosen: ``None`` (default) follows the
            most visited path (then the best-valued answer); ``"best"``, ``"vote"`` or
            ``"weighted_vote"`` choose among every answer in the tree by its value
            (:mod:`thinkgym.search.selection`).
        aggregate: PRM step-score aggregation (``None``: the guidance's own).
        max_simulations: most simulations in all. ``None``: as many as the budget affords (or
            ``simulations`` times the env's action limit when no budget bounds the policy calls,
            tokens or env steps).
        **kwargs: see :class:`~thinkgym.search.base.Planner`.
    """

    name = "mcts"

    def __init__(
        self,
        policy: Policy,
        *,
        simulations: int = 16,
        width: int = 4,
        c_puct: float = 1.5,
        guidance: Any = None,
        rollout_depth: int | None = None,
        temperature_final: float = 0.0,
        reuse: bool = True,
        leaves_per_call: int = 4,
        virtual_loss: int = 1,
        widening: float = 0.5,
        max_simulations: int | None = None,
        final: str | None = None,
        aggregate: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.rollout = isinstance(guidance, str) and guidance == "rollout"
        super().__init__(policy, guidance=None if self.rollout else guidance, **kwargs)
        self.guidance = with_aggregate(self.guidance, aggregate)
        if final is not None and final not in FINAL_RULES:
            raise ValueError(f"final={final!r} is not one of {FINAL_RULES} (or None)")
        self.final = final
        for name, v in (
            ("simulations", simulations),
            ("width", width),
            ("leaves_per_call", leaves_per_call),
        ):
            if v < 1:
                raise ValueError(f"{name}={v!r} must be >= 1")
        if temperature_final < 0:
            raise ValueError(f"temperature_final={temperature_final!r} must be >= 0")
        self.simulations = int(simulations)
        self.width = int(width)
        self.c_puct = float(c_puct)
        self.rollout_depth = rollout_depth
        self.temperature_final = float(temperature_final)
        self.reuse = bool(reuse)
        self.leaves_per_call = int(leaves_per_call)
        if virtual_loss < 0:
            raise ValueError(f"virtual_loss={virtual_loss!r} must be >= 0")
        self.virtual_loss = int(virtual_loss)
        self.widening = float(widening)
        if max_simulations is not None and max_simulations < 1:
            raise ValueError(f"max_simulations={max_simulations!r} must be >= 1 or None")
        self.max_simulations = max_simulations

    @classmethod
    def sizing(cls, policy_calls: int, depth: int) -> dict[str, Any]:
        """``width`` up to 4 and as many simulations per move as whole trajectories fit (the search
        itself goes on until the budget is spent)."""
        width = max(1, min(4, policy_calls // depth))
        return {"width": width, "simulations": max(1, policy_calls // (width * depth))}

    # -- selection
    def _can_widen(self, node: Node, stale: dict[int, int]) -> bool:
        return self.widening > 0 and stale.get(node.id, 0) < 2

    def _select(
        self,
        ctx: SearchContext,
        root: int,
        stale: dict[int, int],
        closed: set[int],
        sampled: dict[int, int],
    ) -> list[int]:
        """A path from ``root`` to the leaf to expand; closed subtrees are never entered."""
        nodes = ctx.tree.nodes
        path = [root]
        cur = nodes[root]
        while cur.children and not cur.terminal:
            if self._can_widen(cur, stale) and sampled.get(cur.id, 0) < math.ceil(
                self.width * max(1, cur.visits) ** self.widening
            ):
                return path  # widen: expand this node again
            sqrt_n = math.sqrt(max(1.0, cur.visits))
            best, best_s = None, -math.inf
            for cid in cur.children:
                if cid in closed:
                    continue
                ch = nodes[cid]
                q = ch.value_sum / ch.visits if ch.visits else 0.0
                s = q + self.c_puct * ch.prior * sqrt_n / (1 + ch.visits)
                if s > best_s:
                    best, best_s = ch, s
            if best is None:
                return path  # every child is closed: widen (the node itself is still open)
            cur = best
            path.append(cur.id)
        return path

    def _close(
        self, nodes: list[Node], path: list[int], stale: dict[int, int], closed: set[int]
    ) -> None:
        """Mark closed, bottom-up along ``path``, the nodes with nothing left to search: answers,
        dead ends and truncated states, and nodes whose children are all closed and which may not
        be widened again."""
        for i in reversed(path):
            node = nodes[i]
            if node.terminal or (
                node.children
                and all(c in closed for c in node.children)
                and not self._can_widen(node, stale)
            ):
                closed.add(i)
            else:
                break

    @staticmethod
    def _backup(nodes: list[Node], path: list[int], value: float, visits: int) -> None:
        for i in path:
            nodes[i].visits += visits
            nodes[i].value_sum += value

    def search(self, ctx: SearchContext) -> Generator[Any, Any, Outcome]:
        """Simulate until a verified answer or until the budget cannot afford another expansion,
        moving to the most visited child every ``simulations`` simulations (the chosen child's
        subtree, visits and values kept, is the next move's root). A move whose subtree has
        nothing left to search is taken back, so the budget is spent on its siblings."""
        tree = ctx.tree
        nodes = tree.nodes
        cands: dict[int, Candidate] = {0: Candidate(ctx.env, ctx.root, ctx.root, "")}
        root = 0
        sims_total = 0
        moves: list[dict[str, int]] = []
        backs = 0
        found: int | None = None
        stale: dict[int, int] = {}
        closed: set[int] = set()
        sampled: dict[int, int] = {}  # steps asked of the policy at each node
        sims = 0
        idle = 0
        limit = self.max_simulations
        if limit is None and ctx.meter.affordable(_UNBOUNDED) >= _UNBOUNDED:
            limit = self.simulations * max(1, ctx.env.max_steps)
        while found is None and not ctx.meter.exhausted:
            if limit is not None and sims_total + sims >= limit:
                break
            if root in closed or nodes[root].terminal:
                closed.add(root)
                parent = nodes[root].parent
                if parent is None or root == 0:
                    break  # the whole tree is searched
                root = parent  # take the move back
                backs += 1
                sims = 0
                continue
            if sims >= self.simulations:
                sims_total += sims
                sims = 0
                nxt = self._choose(ctx, root, closed)
                if nxt is not None:
                    root = nxt
                    moves.append({"node": root, "visits": nodes[root].visits})
                    if not self.reuse:
                        for c in nodes[root].children:
                            closed.discard(c)
                        nodes[root].children = []
                        nodes[root].visits = 0
                        nodes[root].value_sum = 0.0
                continue
            # ---- select several leaves with virtual loss
            paths: list[list[int]] = []
            leaves: set[int] = set()
            for _ in range(min(self.leaves_per_call, self.simulations - sims)):
                path = self._select(ctx, root, stale, closed, sampled)
                leaf = path[-1]
                if nodes[leaf].terminal:  # only a terminal root gets here; closed next round
                    self._close(nodes, path, stale, closed)
                    break
                if leaf in leaves:
                    break
                leaves.add(leaf)
                paths.append(path)
                self._backup(nodes, path, 0.0, self.virtual_loss)
            if not paths:
                idle += 1
                if idle > 1000:  # a guard: nothing selectable and nothing closed
                    break
                continue
            idle = 0
            obs = [ctx.env.transcript(nodes[p[-1]].state) for p in paths]
            # the first `asked` leaves are sent to the policy (Planner.propose's rule)
            asked = min(len(paths), ctx.meter.affordable(len(paths) * self.width))
            props = yield from self.propose(ctx, obs, self.width)
            for p in paths:  # remove the virtual loss
                self._backup(nodes, p, 0.0, -self.virtual_loss)
            # ---- expand
            new: list[tuple[list[int], Candidate, Node]] = []
            dead: list[list[int]] = []
            for j, (path, plist) in enumerate(zip(paths, props, strict=False)):
                leaf = path[-1]
                if j >= asked:
                    continue  # out of budget: not sent to the policy
                # an empty reply is handled as a reply with nothing accepted
                sampled[leaf] = sampled.get(leaf, 0) + max(1, len(plist))
                parent = cands[leaf]
                accepted: list[Candidate] = []
                seen = {nodes[c].step or "" for c in nodes[leaf].children}
                for prop in merge_proposals(plist):
                    ch = ctx.extend(parent, parent.state, prop)
                    if ch.accepted and ch.state.steps[-1] not in seen:
                        seen.add(ch.state.steps[-1])
                        accepted.append(ch)
                if not accepted:
                    if nodes[leaf].children:  # widening found nothing new
                        stale[leaf] = stale.get(leaf, 0) + 1
                        self._backup(nodes, path, nodes[leaf].value, 1)
                        self._close(nodes, path, stale, closed)
                        sims += 1
                        continue
                    nodes[leaf].terminal = True  # a dead end
                    dead.append(path)
                    continue
                for ch in accepted:
                    node = tree.add_proposal(leaf, ch.state, ch.proposal)
                    if not ch.state.done and ctx.out_of_steps(ch.state):
                        node.terminal = True
                    cands[node.id] = ch
                    new.append((path, ch, node))
                kids = [nodes[c] for c in nodes[leaf].children]  # priors over all children
                for kid, pr in zip(kids, softmax([k.logprob for k in kids]), strict=True):
                    kid.prior = pr
            for path in dead:
                self._backup(nodes, path, 0.0, 1)
                self._close(nodes, path, stale, closed)
                sims += 1
            # ---- evaluate
            values = yield from self._evaluate(ctx, [(c, n) for _, c, n in new])
            by_leaf: dict[int, tuple[list[int], float, int]] = {}
            for (path, ch, node), v in zip(new, values, strict=False):
                node.visits = 1
                node.value_sum = v
                node.score = v
                if node.terminal:
                    closed.add(node.id)
                if self.is_done(ch, v):
                    found = node.id
                p, s, k = by_leaf.get(path[-1], (path, 0.0, 0))
                by_leaf[path[-1]] = (p, s + v, k + 1)
            for path, s, k in by_leaf.values():
                self._backup(nodes, path, s, k)
                self._close(nodes, path, stale, closed)
                sims += 1
        sims_total += sims
        info = {
            "simulations": sims_total,
            "moves": len(moves),
            "moves_taken_back": backs,
            "move_visits": moves,
            "nodes": len(nodes),
        }
        if found is not None:
            return Outcome(list(nodes[found].state.steps), nodes[found].state, info=info)
        answered = [
            n
            for n in nodes
            if n.state is not None and n.state.done and n.state.correct is not False
        ]
        if self.final is not None and answered:
            k = choose_final(
                [n.state.answer or "" for n in answered],  # type: ignore[union-attr]
                [n.value for n in answered],
                [n.logprob / max(1, n.tokens) for n in answered],
                self.final,
                [n.count for n in answered],
            )
            info["final"] = self.final
            return Outcome(list(answered[k].state.steps), answered[k].state, info=info)  # type: ignore[union-attr]
        # no verified answer: follow the most visited path, then fall back to the best answer
        cur = nodes[root]
        while cur.children and not cur.terminal:
            cur = max((nodes[c] for c in cur.children), key=lambda n: (n.visits, n.value))
        if cur.state is not None and cur.state.done and cur.state.correct is not False:
            return Outcome(list(cur.state.steps), cur.state, info=info)
        if answered:
            best = max(answered, key=lambda n: (n.value, n.visits))
            return Outcome(list(best.state.steps), best.state, info=info)  # type: ignore[union-attr]
        last = nodes[root].state
        return Outcome(list(last.steps) if last else [], None, info=info)

    def _choose(self, ctx: SearchContext, root: int, closed: set[int]) -> int | None:
        """The next move: an open child of ``root`` (``None`` when every child is closed)."""
        nodes = ctx.tree.nodes
        kids = [nodes[c] for c in nodes[root].children if c not in closed]
        if not kids:
            return None
        if self.temperature_final == 0:
            return max(kids, key=lambda n: (n.visits, n.value)).id
        w = [max(n.visits, 1e-9) ** (1.0 / self.temperature_final) for n in kids]
        s = sum(w)
        k = int(ctx.rng.choice(len(kids), p=[x / s for x in w]))
        return kids[k].id

    def _evaluate(
        self, ctx: SearchContext, items: list[tuple[Candidate, Node]]
    ) -> Generator[Any, Any, list[float]]:
        values = [0.5] * len(items)
        todo: list[int] = []
        for k, (c, node) in enumerate(items):
            if c.state.done and c.state.correct is not None:
                values[k] = 1.0 if c.state.correct else 0.0
            elif node.terminal and not c.state.done:
                values[k] = 0.0  # truncated
            else:
                todo.append(k)
        if not todo:
            return values
        if self.rollout:
            got = yield from self._rollouts(ctx, [items[k][0] for k in todo])
        elif self.guidance is not None:
            got = yield ScoreRequest(self.guidance, [items[k][0] for k in todo])
        else:
            got = [0.5] * len(todo)
        for k, v in zip(todo, got, strict=False):
            values[k] = float(v) if math.isfinite(v) else 0.0
        return values

    def _rollouts(
        self, ctx: SearchContext, starts: list[Candidate]
    ) -> Generator[Any, Any, list[float]]:
        depth = self.rollout_depth or ctx.env.max_steps
        cur = list(starts)
        values: list[float | None] = [None] * len(cur)
        for _ in range(depth):
            active = [i for i, c in enumerate(cur) if values[i] is None and not c.state.done]
            if not active:
                break
            props = yield from self.propose(
                ctx, [ctx.env.transcript(cur[i].state) for i in active], 1
            )
            for i, plist in zip(active, props, strict=False):
                if not plist:
                    values[i] = 0.5  # budget ran out mid-rollout: no information
                    continue
                nxt = ctx.extend(cur[i], cur[i].state, plist[0])
                cur[i] = nxt if nxt.accepted else Candidate(ctx.env, cur[i].state, nxt.state, "")
                if ctx.out_of_steps(cur[i].state) and not cur[i].state.done:
                    values[i] = 0.0
        out = []
        for i, c in enumerate(cur):
            if values[i] is not None:
                out.append(float(values[i]))  # type: ignore[arg-type]
            elif c.state.done and c.state.correct is not None:
                out.append(1.0 if c.state.correct else 0.0)
            else:
                out.append(0.5)
        return out


def _terminal_value(node: Node) -> float:
    if node.state is not None and node.state.done:
        if node.state.correct is None:
            return node.score if node.score is not None else 0.5
        return 1.0 if node.state.correct else 0.0
    return 0.0
