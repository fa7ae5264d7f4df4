"""The device-independent training state: the saved-tensor counter on
hand-built modules whose saved activations are known by hand, and the
parameters, gradients and optimizer state of one step."""
import pytest
import torch
from mmengine.optim import OptimWrapper
from torch import nn

from projects.benchmark.saved_memory import (MiB, SavedTensors,
                                             measure_train_state,
                                             tensor_bytes)

N, IN, HIDDEN, OUT = 4, 8, 32, 2
F32 = 4  # bytes


def _chain() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(IN, HIDDEN), nn.ReLU(),
                         nn.Linear(HIDDEN, OUT))


# Linear(8, 32) + ReLU + Linear(32, 2) on x (4, 8), x without grad; by hand:
# the first Linear saves x (for its weight's gradient; not its weight: x
# needs no gradient), the ReLU saves its output h (4, 32), the second
# Linear saves h again (one storage: counts once) and its weight (a
# parameter: not counted); sum() saves no tensor.
CHAIN_SAVED = N * IN * F32 + N * HIDDEN * F32  # 128 + 512 bytes


def test_linear_relu_chain_saves_what_is_known_by_hand():
    model = _chain()
    x = torch.randn(N, IN)
    with SavedTensors(exclude=model.parameters()) as saved:
        loss = model(x).sum()
        held = saved.held_bytes()
    assert held == CHAIN_SAVED == 640
    loss.backward()  # the graph is gone: nothing is held any more
    assert saved.held_bytes() == 0


def test_parameters_count_unless_excluded():
    """Without ``exclude`` the second Linear's weight (saved as a view,
    its transpose) counts too, whole."""
    model = _chain()
    with SavedTensors() as saved:
        loss = model(torch.randn(N, IN)).sum()  # noqa: F841
        assert saved.held_bytes() == CHAIN_SAVED + HIDDEN * OUT * F32


class SaveTwice(torch.autograd.Function):
    """y = a * b, saving ``a`` twice and a view of it."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, a, a[1:], b)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, _, _, b = ctx.saved_tensors
        return grad * b, grad * a


def test_a_tensor_saved_twice_and_its_views_count_once():
    a = torch.randn(10, 6, requires_grad=True)
    b = torch.randn(10, 6, dtype=torch.float64, requires_grad=True)
    with SavedTensors() as saved:
        y = SaveTwice.apply(a, b)
        assert saved.held_bytes() == 10 * 6 * 4 + 10 * 6 * 8
    y.sum().backward()  # the unpacked tensors still give the gradients
    assert torch.allclose(a.grad, b.detach().float())
    assert torch.allclose(b.grad, a.detach().double())
    assert tensor_bytes([a, a[2:], a.view(60)]) == 240


def test_only_what_is_held_at_the_end_of_the_forward_counts():
    """A branch computed and dropped during the forward frees its saved
    tensors: the end-of-forward total leaves them out."""
    x = torch.randn(N, IN)
    w = torch.randn(IN, HIDDEN, requires_grad=True)
    with SavedTensors(exclude=[w]) as saved:
        dropped = (x @ w).exp()
        assert saved.held_bytes() == N * IN * F32 + N * HIDDEN * F32
        del dropped
        kept = (x @ w).relu()
        assert saved.held_bytes() == N * IN * F32 + N * HIDDEN * F32
        kept.sum().backward()
    assert saved.held_bytes() == 0


@pytest.mark.parametrize('momentum', [0.9, 0.])
def test_train_state_of_one_sgd_step(momentum):
    """Parameters, gradients and SGD momentum buffers are numel * 4 bytes
    each; a frozen layer counts in none of them."""
    model = _chain()
    model[0].bias.requires_grad_(False)
    wrapper = OptimWrapper(torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad], lr=0.1,
        momentum=momentum))
    x = torch.randn(N, IN)
    state = measure_train_state(model, wrapper, lambda: model(x).sum())
    numel = sum(p.numel() for p in model.parameters()) - HIDDEN
    assert state.saved == CHAIN_SAVED
    assert state.params == state.grads == numel * F32
    assert state.optim_state == (numel * F32 if momentum else 0)
    assert state.total == (state.saved + state.params + state.grads +
                           state.optim_state)
    mib = state.to_mib()
    assert mib['train_state_mib'] == state.total / MiB
    assert mib['train_state_mib'] == pytest.approx(
        sum(mib[k] for k in ('saved_mib', 'params_mib', 'grads_mib',
                             'optim_state_mib')))
    # the step was taken and the gradients cleared, as train_step leaves
    # them
    assert all(p.grad is None or not p.grad.any()
               for p in model.parameters())


def test_an_optim_wrapper_dict_is_refused():
    from mmengine.optim import OptimWrapperDict
    model = _chain()
    wrappers = OptimWrapperDict(a=OptimWrapper(
        torch.optim.SGD(model.parameters(), lr=0.1)))
    with pytest.raises(TypeError, match='one OptimWrapper'):
        measure_train_state(model, wrappers,
                            lambda: model(torch.randn(N, IN)).sum())
