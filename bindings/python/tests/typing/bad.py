"""Wrong uses: mypy --strict must flag every line marked with `# E: <code>`."""

import qthr


def square(x: int) -> int:
    return x * x


async def main(rt: qthr.Runtime) -> None:
    y: str = await rt.run(square, 3)  # E: assignment|arg-type
    await rt.run(square, "3")  # E: arg-type
    print(y)


def use(rt: qthr.Runtime) -> None:
    x: str = rt.submit(square, 3).result()  # E: assignment
    rt.submit(square, "three")  # E: arg-type
    rt.submit(square, 1, 2)  # E: call-arg
    z: str = rt.call(square, 3)  # E: assignment
    rt.call(square, x=None)  # E: arg-type
    f: qthr.Future[str] = rt.submit(square, 2)  # E: assignment|arg-type
    w: str = rt.options(urgent=True).call(square, 2)  # E: assignment
    print(x, z, f, w)
