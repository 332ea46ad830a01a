"""Correct uses: mypy --strict must accept every line."""

import asyncio
from typing import List

import qthr


def square(x: int) -> int:
    return x * x


def greet(name: str, *, punct: str = "!") -> str:
    return name + punct


async def main(rt: qthr.Runtime) -> int:
    a: int = await rt.run(square, 3)
    b: str = await rt.run(greet, "hi", punct="?")
    c: int = await rt.options(urgent=True).run(square, 4)
    return a + len(b) + c


def use(rt: qthr.Runtime) -> None:
    fut: qthr.Future[int] = rt.submit(square, 3)
    n: int = fut.result()
    m: int = rt.call(square, n)
    s: str = rt.call(greet, "a", punct=".")
    futs: List[qthr.Future[int]] = rt.submit_many(square, [(1,), (2,)])
    o: int = rt.options(deadline=0.5).call(square, 2)
    p: qthr.Future[str] = rt.options(urgent=True).submit(greet, "x")
    addr: int = rt.submit_c(0x1234, None).result()
    total: int = asyncio.run(main(rt)) if False else 0
    print(n, m, s, futs, o, p, addr, total, fut.interrupt())
