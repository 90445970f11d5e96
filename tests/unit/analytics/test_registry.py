"""Every one of the ten models is either registered or listed as unavailable with a reason."""

from __future__ import annotations

import vms.analytics.models  # noqa: F401  (registers the plugins)
from vms.analytics.plugin import REGISTRY, UNAVAILABLE
from vms.kernel.ai_models import AiModel
from vms.roles.worker import load_models


def test_the_ten_models_are_all_accounted_for():
    assert set(REGISTRY) | set(UNAVAILABLE) == set(AiModel)
    assert not set(REGISTRY) & set(UNAVAILABLE)
    assert {AiModel.INTRUSION, AiModel.CROWD, AiModel.MOTION, AiModel.TAMPERING} <= set(REGISTRY)
    assert all(reason for reason in UNAVAILABLE.values())


def test_each_registered_plugin_declares_its_key_and_a_described_config():
    for key, plugin in REGISTRY.items():
        assert plugin.key is key
        fields = plugin.config_type.model_fields
        assert "confidence_threshold" in fields
        assert all(f.description for name, f in fields.items() if name != "type"), key  # type: the discriminator


def test_a_worker_refuses_a_model_that_cannot_run_here():
    import pytest

    from vms.kernel.errors import ValidationFailed

    missing = next(iter(UNAVAILABLE), None)
    if missing is not None:
        with pytest.raises(ValidationFailed, match=missing.value):
            load_models(missing.value)
    with pytest.raises(ValidationFailed, match="Unknown model"):
        load_models("motion,teleportation")
    assert set(load_models("all")) == set(REGISTRY)
