import pytest

from cpulab.engine.load import cpu_seconds, noisy


@pytest.mark.parametrize(
    ("other", "steal", "available", "wall", "expected"),
    [
        (0.0, 0.0, 2, None, False),
        (0.2, 0.0, 2, None, False),
        (0.3, 0.0, 2, None, True),  # a quarter of a core on a laptop
        (3.0, 0.0, 256, None, False),  # on a large server the bar is 2 % of the machine
        (6.0, 0.0, 256, None, True),
        (0.0, 0.2, 2, None, True),  # a hypervisor taking a fifth of a core
        # 0.5 cores over 0.1 s is 0.05 s: five clock ticks, within rounding
        (0.5, 0.0, 2, 0.1, False),
        (0.5, 0.0, 2, 1.0, True),
    ],
)
def test_noisy_rule(other, steal, available, wall, expected):
    load = {"other_cores": other, "steal_cores": steal}
    assert noisy(load, available, wall) is expected


def test_cpu_seconds_grow_and_skip_absent_cpus():
    before = cpu_seconds((0,))
    sum(i * i for i in range(300_000))
    after = cpu_seconds((0, 10_000))
    assert set(before) == {"busy", "steal", "iowait"}
    assert after["busy"] >= before["busy"]
