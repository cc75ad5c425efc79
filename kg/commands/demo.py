"""``kg demo``: the whole platform on a generated shop."""

from __future__ import annotations

from typing import Annotated

import typer

from kg.commands.context import console, state


def demo(
    users: Annotated[int, typer.Option(min=10, help="Users in the generated shop.")] = 1000,
    items: Annotated[int, typer.Option(min=20, help="Products in the generated shop.")] = 400,
    seed: Annotated[int, typer.Option(help="Random seed of the generated shop.")] = 7,
) -> None:
    """Generate a shop, load it into the store and run the platform end to end."""
    from kg.datasets.synthetic_shop import ShopSize
    from kg.demo import run_demo

    run_demo(state.settings(), console, size=ShopSize(users=users, items=items), seed=seed)


def register(app: typer.Typer) -> None:
    app.command()(demo)
