"""Training step time and peak training memory of one config, measured in
its own process so that every method is measured the same way.

    python -m projects.benchmark.train_probe CONFIG OUT_JSON
        [--checkpoint CKPT] [--device cpu|cuda] [--warmup 2] [--steps 5]

Runs ``warmup + steps`` calls of ``model.train_step`` (data pre-processing,
forward, loss, backward, optimizer step) on batches of the config's own
``train_dataloader`` (its batch size and pipeline; ``num_workers=0`` so the
data pipeline's memory is in this process too) with its ``optim_wrapper``.
Writes to OUT_JSON:

* ``step_s``: seconds of each timed step (data loading excluded);
* ``peak_rss_mib``: the process's peak resident memory (Linux ``VmHWM``),
  and ``rss_before_train_mib``, the peak before the first step (imports,
  model, data), so that the training part can be told apart;
* on CUDA ``peak_cuda_mib``: ``torch.cuda.max_memory_allocated`` over the
  steps;
* ``batch_size``, ``input_shape`` (the batch tensor's N C H W) and the last
  ``losses``;
* the training state, the same on every device (see
  :mod:`projects.benchmark.saved_memory`), in MiB, on one more step after
  the timed ones (the next batch of the same loader, its N C H W in
  ``train_state_input_shape``; the figures above are taken before it):
  ``saved_mib`` (the tensors autograd holds for backward at the end of the
  forward), ``params_mib`` (trainable parameters), ``grads_mib`` (their
  gradients), ``optim_state_mib`` (the optimizer's state) and
  ``train_state_mib``, their sum; ``train_state_error`` instead when that
  step fails.
"""
import argparse
import json
import resource
import time


def peak_rss_mib() -> float:
    """Peak resident memory of this process, MiB.

    ``VmHWM``, not ``ru_maxrss``: Linux carries ``ru_maxrss`` over fork and
    exec, so a training process started by a 1 GiB benchmark process would
    report at least 1 GiB (measured here: 906 MiB for the tiny SAIS test
    config, whose own peak is 719 MiB).
    """
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def batch_shape(batch: dict) -> list:
    """N C H W of a collated batch (the first image's C H W)."""
    return [len(batch['inputs'])] + list(batch['inputs'][0].shape)


def main() -> None:
    """Parse the arguments, train, write OUT_JSON (see the module doc)."""
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config')
    p.add_argument('out')
    p.add_argument('--checkpoint')
    p.add_argument('--device', default='cpu')
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--steps', type=int, default=5)
    args = p.parse_args()

    import torch
    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper
    from mmengine.runner import Runner

    from projects.apis import build_model
    from projects.benchmark.saved_memory import measure_train_state

    cfg = Config.fromfile(args.config)
    # build_model registers mmdet's and the zoo's modules
    model = build_model(cfg, args.checkpoint, args.device).train()
    loader_cfg = cfg.train_dataloader.copy()
    loader_cfg.update(num_workers=0, persistent_workers=False)
    loader = Runner.build_dataloader(loader_cfg, seed=0)
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    cuda = args.device.startswith('cuda')

    def batches():
        while True:
            yield from loader

    data_iter = batches()
    rss_before = peak_rss_mib()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    step_s, losses = [], {}
    for i in range(args.warmup + args.steps):
        data = next(data_iter)
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        losses = model.train_step(data, optim_wrapper)
        if cuda:
            torch.cuda.synchronize()
        if i >= args.warmup:
            step_s.append(time.perf_counter() - t0)
    out = dict(step_s=step_s, peak_rss_mib=peak_rss_mib(),
               rss_before_train_mib=rss_before,
               batch_size=cfg.train_dataloader.batch_size,
               input_shape=batch_shape(data),
               losses={k: float(v.detach()) for k, v in losses.items()},
               threads=torch.get_num_threads())
    if cuda:
        out['peak_cuda_mib'] = torch.cuda.max_memory_allocated() / 2**20
    # one more step, untimed, for the device-independent training state
    data = next(data_iter)
    out['train_state_input_shape'] = batch_shape(data)
    try:
        state = measure_train_state(
            model, optim_wrapper, lambda: model.parse_losses(
                model._run_forward(model.data_preprocessor(data, True),
                                   mode='loss'))[0])
        out.update(state.to_mib())
    except Exception as e:  # the timed figures above still count
        out['train_state_error'] = f'{type(e).__name__}: {e}'[:300]
    with open(args.out, 'w') as f:
        json.dump(out, f, indent=1)


if __name__ == '__main__':
    main()
