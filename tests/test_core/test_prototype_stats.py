"""PrototypeStatsHook logs the state of the prototypes of every training
iteration (the branch's collapse is otherwise invisible until mask AP 0)."""
import types

import torch
from mmengine.config import Config
from mmengine.logging import MessageHub, MMLogger

from conftest import TINY_CFG, model_inputs, real_dataset
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from projects.core import PrototypeStatsHook, prototype_stats


def test_prototype_stats_by_hand():
    protos = torch.zeros(2, 3, 4, 4)
    protos[0, 0, :2] = 1.0   # prototype 0: 8 pixels of image 0 at 1
    protos[1, 2, 0, 0] = 4.0  # prototype 2: one pixel of image 1 at 4
    stats = prototype_stats(protos)
    assert stats['proto_active'] == 9 / 96
    assert stats['proto_alive'] == 2
    assert stats['proto_abs'] == 12 / 96


def test_hook_logs_the_training_forward_of_a_real_batch(fruits_nuts):
    register_all_modules()
    cfg = Config.fromfile(TINY_CFG)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    hub = MessageHub.get_instance('test_prototype_stats')
    runner = types.SimpleNamespace(
        model=model, message_hub=hub,
        logger=MMLogger.get_instance('test_prototype_stats'))
    hook = PrototypeStatsHook()
    hook.before_train(runner)
    seen = []
    model.mask_head.protonet.register_forward_hook(
        lambda m, a, out: seen.append(prototype_stats(out)))
    ds = real_dataset(cfg, 'train_dataloader', 128)
    model.train()
    model(**model_inputs(model, [ds[0], ds[1]], True), mode='loss')
    hook.after_train_iter(runner, 0)
    for key, value in seen[-1].items():
        assert hub.get_scalar(f'train/{key}').current() == value
    assert 0 < seen[-1]['proto_active'] <= 1
    assert len(model.mask_head.protonet._forward_hooks) == 2
    hook.after_train(runner)  # removes its hook, leaves the test's
    assert len(model.mask_head.protonet._forward_hooks) == 1
