"""One contract for every executor (local process pool, Ray on a local 2-CPU cluster), against the
serial run: identical results, idempotent rerun, a killed worker's unit redone, one failure recorded
without losing the others; plus the Ray-specific errors at submit time."""

import pytest

pytest.importorskip("transformers")

from spillover.errors import SpilloverError  # noqa: E402
from spillover.execute import Unit, make_executor, raise_failures  # noqa: E402
from spillover.pipeline import context, run_experiment  # noqa: E402
from spillover.records import SampleRecord  # noqa: E402
from spillover.store import RunDir  # noqa: E402
from spillover.ui import Reporter  # noqa: E402
from test_pipeline import tiny_experiment  # noqa: E402

UNIT = "spillover.testing:contract_unit"


def _has_ray() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


EXECUTORS = ["local", pytest.param("ray", marks=pytest.mark.skipif(not _has_ray(), reason="ray extra"))]


@pytest.fixture(scope="module")
def ray_session():
    """One local 2-CPU Ray for the module (starting Ray takes seconds); executors reuse it."""
    if not _has_ray():
        yield None
        return
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
             runtime_env={"env_vars": {"OMP_NUM_THREADS": "1"}})
    yield ray
    ray.shutdown()


@pytest.fixture
def ctx(tiny_qwen, tmp_path):
    from spillover.manifest import write_manifest

    exp = tiny_experiment(tiny_qwen, finetunes={}, datasets={})
    write_manifest(tmp_path / "run" / "manifest.json", exp, None, [])
    return context(tmp_path / "run", Reporter(), exp)


def _map(name, ctx, units):
    """Run ``units`` on a fresh 2-worker executor ``name``; its outcomes."""
    ex = make_executor(name, ctx, 2)
    try:
        return ex.map(units)
    finally:
        ex.close()


def _units(tmp_path, n=4, flags=None):
    return [Unit(UNIT, f"u{i}", {"key": f"u{i}", "value": i, "log": str(tmp_path / "log"),
                                 **(flags or {}).get(f"u{i}", {})}) for i in range(n)]


@pytest.mark.parametrize("name", EXECUTORS)
def test_a_pipeline_gives_the_serial_records_and_a_rerun_does_nothing(tiny_qwen, tmp_path, name, ray_session):
    exp = tiny_experiment(tiny_qwen, seeds=[0, 1])
    run_experiment(exp, tmp_path / "serial", Reporter(), stop_after="sample", executor_name="serial")
    run_experiment(exp, tmp_path / name, Reporter(), stop_after="sample", executor_name=name, workers=2)
    serial, other = (RunDir(tmp_path / d).stage("samples").load(SampleRecord) for d in ("serial", name))
    assert len(serial) == 5 * 8 * 6 and serial == other
    shards = {p.name for p in (tmp_path / name / "samples").glob("part-*.jsonl")}
    assert len(shards) >= 2  # the units really ran in separate workers
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / name).rglob("*") if p.is_file()}
    run_experiment(exp, tmp_path / name, Reporter(), stop_after="sample", executor_name=name, workers=2)
    after = {p: p.stat().st_mtime_ns for p in (tmp_path / name).rglob("*") if p.is_file()}
    assert after == before


@pytest.mark.parametrize("name", EXECUTORS)
def test_a_killed_workers_unit_is_redone_once(ctx, tmp_path, name, ray_session):
    outcomes = _map(name, ctx, _units(tmp_path, flags={"u1": {"die_once": True}}))
    assert [o.error for o in outcomes] == [None] * 4 and [o.result for o in outcomes] == [0, 1, 2, 3]
    assert len(list((tmp_path / "log").glob("u1.*"))) == 2
    assert {k: v["value"] for k, v in ctx.run.stage("probes").records().items()} == {f"u{i}": 2 * i for i in range(4)}


@pytest.mark.parametrize("name", EXECUTORS)
def test_one_failing_unit_is_recorded_and_the_others_kept(ctx, tmp_path, name, ray_session):
    outcomes = _map(name, ctx, _units(tmp_path, flags={"u2": {"raise": True}}))
    assert [o.error is None for o in outcomes] == [True, True, False, True]
    assert "ValueError: unit u2 was told to fail" in outcomes[2].error
    assert len(list((tmp_path / "log").glob("u2.*"))) == 1  # an exception is an outcome, not retried
    assert set(ctx.run.stage("probes").records()) == {"u0", "u1", "u3"}
    with pytest.raises(SpilloverError, match=r"1 of 4 units failed, the rest are saved: u2: ValueError"):
        raise_failures("probe", outcomes)


@pytest.mark.parametrize("name", EXECUTORS)
def test_units_spread_over_the_workers(ctx, tmp_path, name, ray_session):
    pids = [o.result for o in _map(name, ctx, _units(tmp_path, 6, {f"u{i}": {"pid": True} for i in range(6)}))]
    assert len(set(pids)) == 2


@pytest.mark.skipif(not _has_ray(), reason="ray extra")
def test_ray_gpu_request_on_a_cluster_without_gpus_fails_at_submit(ctx, tmp_path, ray_session):
    ex = make_executor("ray", ctx, 2)
    units = [*_units(tmp_path, 2), Unit(UNIT, "gpu-unit", {"key": "g", "value": 0, "log": str(tmp_path)}, gpus=1)]
    with pytest.raises(SpilloverError, match="unit gpu-unit needs 1 GPU, the Ray cluster has 0: nothing was"):
        ex.map(units)
    assert not (tmp_path / "log").exists()


def test_ray_address_that_does_not_answer_is_one_clear_error(ctx):
    pytest.importorskip("ray")
    import socket

    from spillover.execute.ray_cluster import check_reachable

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(SpilloverError, match=f"no Ray cluster answers at 127.0.0.1:{port}"):
        check_reachable(f"127.0.0.1:{port}", timeout=2)
    with pytest.raises(SpilloverError, match="not host:port"):
        check_reachable("nowhere")


def test_more_workers_than_units_says_so(ctx, tmp_path):
    from spillover.pipeline import execute

    class Log(Reporter):
        lines: list[str] = []

        def log(self, msg):
            self.lines.append(msg)

    ctx = ctx._replace(ui=Log())
    ex = make_executor("serial", ctx)
    ex.workers = 3
    execute(ex, ctx, "probe", _units(tmp_path, 1))
    assert "probe: 1 units for 3 workers, 2 stay idle" in ctx.ui.lines
