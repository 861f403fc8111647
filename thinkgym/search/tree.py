"""The search tree: the nodes a planner explored, with visits and values, exportable as JSON."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from thinkgym.agents.base import Proposal
from thinkgym.envs.base import EnvState, ReasoningEnv

__all__ = ["Node", "SearchTree"]


@dataclass
class Node:
    """One node of a search tree: a state reached by a step from its parent.

    Attributes:
        id: index in the tree.
        parent: the parent's id (``None`` at the root).
        step: the step text that led here (as written into the transcript).
        state: the env state (``None`` for trees re-imported without an env).
        prior: the policy prior of the step (softmaxed log-probs among siblings).
        logprob: the step's summed log-probability.
        entropy: the step's mean token entropy.
        tokens: generated tokens of the step.
        count: how many samples proposed this step.
        visits: visit count (MCTS) or how often the node was selected.
        value_sum: sum of backed-up values.
        score: the guidance score, when one was computed.
        depth: number of steps from the root.
        children: child ids.
        terminal: whether the state ends the episode (answered or truncated).
        solved: reference-free verdict of a final answer (``True``/``False``; ``None`` unknown).
        answer: the final answer text, at answered nodes.
    """

    id: int
    parent: int | None
    step: str | None
    state: EnvState | None
    prior: float = 1.0
    logprob: float = 0.0
    entropy: float = 0.0
    tokens: int = 0
    count: int = 1
    visits: int = 0
    value_sum: float = 0.0
    score: float | None = None
    depth: int = 0
    children: list[int] = field(default_factory=list)
    terminal: bool = False
    solved: bool | None = None
    answer: str | None = None

    @property
    def value(self) -> float:
        """Mean backed-up value (0 when unvisited)."""
        return self.value_sum / self.visits if self.visits else 0.0

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (the state itself is not exported; it replays from the steps)."""
        d = {k: _finite(getattr(self, k)) for k in _NODE_FIELDS}
        d["children"] = list(self.children)
        d["value"] = _finite(self.value)
        return d


_NODE_FIELDS = (
    "id",
    "parent",
    "step",
    "prior",
    "logprob",
    "entropy",
    "tokens",
    "count",
    "visits",
    "value_sum",
    "score",
    "depth",
    "terminal",
    "solved",
    "answer",
)


class SearchTree:
    """The nodes a planner explored, rooted at the problem.

    Args:
        root: the initial state.
    """

    def __init__(self, root: EnvState | None) -> None:
        self.nodes: list[Node] = [Node(id=0, parent=None, step=None, state=root)]

    @property
    def root(self) -> Node:
        """The root node."""
        return self.nodes[0]

    def __len__(self) -> int:
        return len(self.nodes)

    def add(self, parent: int, step: str, state: EnvState, **attrs: Any) -> Node:
        """Append a child of ``parent`` reached by ``step``."""
        p = self.nodes[parent]
        node = Node(
            id=len(self.nodes),
            parent=parent,
            step=step,
            state=state,
            depth=p.depth + 1,
            terminal=bool(state.done),
            solved=state.correct if state.done else None,
            answer=state.answer,
            **attrs,
        )
        self.nodes.append(node)
        p.children.append(node.id)
        return node

    def add_proposal(
        self, parent: int, state: EnvState, proposal: Proposal | None, **attrs: Any
    ) -> Node:
        """Append the child reached by ``state``'s last step, with the proposal's statistics."""
        return self.add(
            parent,
            state.steps[-1],
            state,
            logprob=proposal.logprob if proposal else 0.0,
            entropy=proposal.entropy if proposal else 0.0,
            tokens=proposal.tokens if proposal else 0,
            count=proposal.count if proposal else 1,
            **attrs,
        )

    def path(self, node_id: int) -> list[int]:
        """Node ids from the root to ``node_id``."""
        out = []
        cur: int | None = node_id
        while cur is not None:
            out.append(cur)
            cur = self.nodes[cur].parent
        return out[::-1]

    def steps(self, node_id: int) -> list[str]:
        """The steps from the root to ``node_id``."""
        return [self.nodes[i].step for i in self.path(node_id)[1:] if self.nodes[i].step]

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict: every node with its visits and values."""
        return {"nodes": [n.to_json() for n in self.nodes]}

    @classmethod
    def from_json(
        cls, data: dict[str, Any], env: ReasoningEnv | None = None, root: EnvState | None = None
    ) -> SearchTree:
        """Rebuild a tree from :meth:`to_json`; states are replayed when ``env`` and ``root`` are given."""
        tree = cls(root)
        tree.nodes = []
        for d in data["nodes"]:
            kwargs = {k: d[k] for k in _NODE_FIELDS if k in d}
            node = Node(state=None, children=list(d.get("children", [])), **kwargs)
            tree.nodes.append(node)
        if env is not None and root is not None:
            tree.nodes[0].state = root
            for node in tree.nodes[1:]:
                parent = tree.nodes[node.parent] if node.parent is not None else None
                if parent is not None and parent.state is not None and node.step is not None:
                    node.state, _, _ = env.apply(parent.state, node.step)
        return tree


def _finite(x: Any) -> Any:
    """Non-finite floats become ``None`` (strict JSON has no NaN or infinity)."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x
