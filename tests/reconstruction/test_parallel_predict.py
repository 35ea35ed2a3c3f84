"""Prediction over many files, one Dask task per file: the same DL2 tables as one file after the other."""

import numpy as np
import pytest
import tables

from reconstruction.predict import predict_files


@pytest.fixture
def in_process_cluster():
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0") as cluster:
        yield cluster.scheduler_address


def _dl2(path) -> dict:
    with tables.open_file(path) as h5:
        return {n._v_pathname: n.read() for n in h5.walk_nodes("/dl2", "Table")}


def test_files_as_tasks_give_the_tables_of_one_after_the_other(mono_model, mono_dl2, reco_files, tmp_path,
                                                               in_process_cluster):
    from distributed import Client

    jobs = [(f, tmp_path / f.name.replace(".dl1.h5", ".dl2.h5")) for f in reco_files]
    with Client(in_process_cluster, set_as_default=False) as client:
        written = predict_files(mono_model.model_dir, jobs, client=client)
    assert written == [out for _, out in jobs]
    for ours, theirs in zip(written, mono_dl2):
        a, b = _dl2(ours), _dl2(theirs)
        assert sorted(a) == sorted(b) and a
        for where, table in a.items():
            for name in table.dtype.names:
                assert np.allclose(table[name], b[where][name], equal_nan=True, rtol=1e-6), (where, name)
