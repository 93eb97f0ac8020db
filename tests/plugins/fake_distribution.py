"""An installed distribution made on the spot: modules plus a *.dist-info folder whose
entry points offer cpulab tasks, found by importlib.metadata wherever the folder is on the
path."""

from pathlib import Path

INSTALLED = Path(__file__).parent / "installed"


def install(site: Path, entry_points: dict[str, str], modules: dict[str, str]) -> Path:
    """Write `modules` (name -> source) and a distribution offering `entry_points` (task
    name -> "module:function") into `site`, and return `site`."""
    site.mkdir(parents=True, exist_ok=True)
    for name, source in modules.items():
        (site / f"{name}.py").write_text(source)
    info = site / "cpulab_fake_plugins-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: cpulab-fake-plugins\nVersion: 0.1\n"
    )
    lines = [f"{name} = {value}" for name, value in entry_points.items()]
    (info / "entry_points.txt").write_text("[cpulab.tasks]\n" + "\n".join(lines) + "\n")
    return site


def fake_forest_source() -> str:
    return (INSTALLED / "cpulab_fake_forest.py").read_text()
