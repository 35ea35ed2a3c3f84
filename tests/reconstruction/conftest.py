"""Fixtures for the reconstruction tests: tiny models trained once per session on the shared simulated files."""

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from reco_settings import IMAGE_SHAPE, TINY


@pytest.fixture(scope="session")
def reco_files(simulated):
    return [simulated["gamma"], simulated["proton"]]


@pytest.fixture(scope="session")
def mono_model(reco_files, tmp_path_factory):
    from reconstruction.train import train

    folder = tmp_path_factory.mktemp("mono_model")
    network = {**TINY, "attention": "blocks", "attention_kernel": 4}
    return train(reco_files, folder, data={"image_shape": IMAGE_SHAPE}, network=network, epochs=2, batch_size=16)


@pytest.fixture(scope="session")
def stereo_model(reco_files, tmp_path_factory):
    from reconstruction.train import train

    folder = tmp_path_factory.mktemp("stereo_model")
    return train(reco_files, folder, data={"image_shape": IMAGE_SHAPE, "mode": "stereo"}, network=TINY, epochs=1,
                 batch_size=4)


@pytest.fixture(scope="session")
def mono_dl2(mono_model, reco_files, tmp_path_factory):
    from reconstruction.predict import predict

    folder = tmp_path_factory.mktemp("mono_dl2")
    return [predict(mono_model.model_dir, f, folder / f.name.replace(".dl1.h5", ".dl2.h5")) for f in reco_files]
