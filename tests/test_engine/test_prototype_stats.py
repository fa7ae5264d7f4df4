"""PrototypeStatsHook logs the state of the prototypes of every training
iteration (the branch's collapse is otherwise invisible until mask AP 0),
and normalised prototypes that cannot all die."""
import os.path as osp
import types

import torch
from mmengine.config import Config
from mmengine.logging import MessageHub, MMLogger

from conftest import ROOT, TINY_CFG, model_inputs, real_dataset
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from projects.engine import PrototypeStatsHook, prototype_stats

TINY_YOLACT = osp.join(ROOT, 'tests', 'configs',
                       'yolact_tiny_fruits_nuts.py')


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


def test_normalised_prototypes_cannot_all_die():
    """A last conv driven far negative kills every ReLU prototype (the
    collapsed state: zero output, zero gradient); with ``proto_norm`` each
    prototype keeps about half of its pixels active and its gradient."""
    from projects.layers import Protonet
    torch.manual_seed(0)
    feats = torch.randn(2, 16, 12, 12)
    for proto_norm in (False, True):
        net = Protonet(16, 16, num_protos=4, num_convs=1,
                       proto_norm=proto_norm)
        net.init_weights()
        with torch.no_grad():
            net.conv_protos.bias.fill_(-100.)
        protos = net(feats)
        stats = prototype_stats(protos)
        protos.sum().backward()
        grad = net.conv_protos.weight.grad.abs().sum()
        if proto_norm:
            assert stats['proto_alive'] == 4
            assert 0.3 < stats['proto_active'] < 0.7
            assert grad > 0
        else:
            assert stats['proto_alive'] == 0 and grad == 0


def test_yolact_protonet_takes_the_same_switch():
    """ZooYOLACTProtonet(proto_norm=True) normalises before mmdet's last
    ReLU and keeps mmdet's state dict keys (checkpoints still load)."""
    register_all_modules()
    cfg = Config.fromfile(TINY_YOLACT)
    plain = MODELS.build(cfg.model.mask_head)
    normed = MODELS.build(dict(cfg.model.mask_head, proto_norm=True))
    assert set(plain.state_dict()) == set(normed.state_dict())
    normed.load_state_dict(plain.state_dict())
    x = torch.randn(1, 32, 16, 16)
    with torch.no_grad():
        normed.protonet[-3].bias.fill_(-100.)
        out = normed.protonet(x)
    assert prototype_stats(out)['proto_alive'] == out.size(1)
