"""tools/demo.py on the real fruits_nuts photos: a folder, a video made
from them, one image, and the errors for bad input (projects/apis/demo_io.py
underneath).

The model is the tiny SAIS of tests/configs with seeded random weights,
saved as mmdet's model zoo saves checkpoints (no class names in it: they
come from the config); ``--score-thr 0`` draws its top detections.
"""
import os.path as osp
import re

import cv2
import numpy as np
import pytest

from conftest import TINY_CFG, load_script, run_tool
from test_unsafe_checkpoint import evil  # noqa: F401  (fixture)
from projects.apis.demo_io import (DemoInputError, headless_reason,
                                   open_video, output_path, parse_input,
                                   read_images)

demo = load_script('tools/demo.py')

PHOTOS = ('11.jpg', '15.jpg', '3.jpg')  # val photos, 800x600
SIZE = (320, 240)  # (width, height) of the inputs made from them
FPS_LINE = re.compile(r'model [\d.]+ frames/s \([\d.]+ ms/frame\); '
                      r'end-to-end [\d.]+ frames/s \([\d.]+ ms/frame\)')


def drawn_fraction(out: np.ndarray, inp: np.ndarray) -> float:
    """Fraction of pixels that changed by more than 48 levels in a channel:
    drawing changes about 10% of them; JPEG/mp4v coding alone ~0 (measured
    with --score-thr 1.1, nothing drawn: at most 0.0001)."""
    assert out.shape == inp.shape
    diff = np.abs(out.astype(int) - inp.astype(int)).max(axis=2)
    return float((diff > 48).mean())


def small_photos(fruits_nuts, folder, names=PHOTOS[:2]):
    """The photos resized to SIZE, as PNG (lossless) in ``folder``."""
    folder.mkdir()
    for name in names:
        img = cv2.imread(osp.join(fruits_nuts, 'images', name))
        cv2.imwrite(str(folder / name.replace('.jpg', '.png')),
                    cv2.resize(img, SIZE))
    return folder


def read_frames(path):
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    fps = cap.get(cv2.CAP_PROP_FPS)
    cap.release()
    return frames, fps


@pytest.fixture(scope='module')
def ckpt(tmp_path_factory):
    from test_no_detections import zoo_style_checkpoint
    path = str(tmp_path_factory.mktemp('demo_ckpt') / 'tiny.pth')
    zoo_style_checkpoint(path)
    return path


# --- inputs (no model) -----------------------------------------------------

def test_parse_input_kinds(tmp_path, fruits_nuts):
    folder = small_photos(fruits_nuts, tmp_path / 'imgs')
    (folder / 'notes.txt').write_text('not an image')
    src = parse_input(str(folder))
    assert src.kind == 'images'
    assert [osp.basename(p) for p in src.paths] == ['11.png', '15.png']
    one = osp.join(fruits_nuts, 'images', '3.jpg')
    assert parse_input(one).paths == (one, )
    (tmp_path / 'clip.MP4').write_bytes(b'')
    assert parse_input(str(tmp_path / 'clip.MP4')).kind == 'video'
    assert parse_input('webcam').camera == 0
    assert parse_input('webcam:2').camera == 2


@pytest.mark.parametrize('make, match', [
    (lambda p: str(p / 'nowhere.jpg'), r"nowhere\.jpg'.*no such file"),
    (lambda p: str(p), 'holds no images'),
    (lambda p: (p / 'a.txt').write_text('x') and str(p / 'a.txt'),
     r"a\.txt'.*unknown file type '\.txt'"),
    (lambda p: 'webcam:one', 'non-negative integer'),
])
def test_parse_input_errors_name_the_input(tmp_path, make, match):
    spec = make(tmp_path)
    with pytest.raises(DemoInputError, match=match):
        parse_input(spec)


def test_unreadable_files_are_named(tmp_path):
    bad_video = tmp_path / 'bad.mp4'
    bad_video.write_bytes(b'not a video' * 100)
    with pytest.raises(DemoInputError, match=re.escape(repr(str(bad_video)))):
        open_video(str(bad_video))
    bad_img = tmp_path / 'bad.jpg'
    bad_img.write_bytes(b'not a jpeg')
    with pytest.raises(DemoInputError, match='cannot be decoded'):
        list(read_images((str(bad_img), )))


def test_output_never_overwrites_the_input(tmp_path, fruits_nuts):
    folder = small_photos(fruits_nuts, tmp_path / 'imgs')
    src = str(folder / '11.png')
    with pytest.raises(DemoInputError, match='would overwrite the input'):
        output_path(str(folder), src)
    assert output_path(str(tmp_path), src) == str(tmp_path / '11.png')


def test_headless_reason():
    if 'GUI:                           NONE' in cv2.getBuildInformation():
        assert 'without a GUI' in headless_reason({}, 'linux')
        return
    assert 'no display' in headless_reason({}, 'linux')
    assert headless_reason({'DISPLAY': ':0'}, 'linux') is None
    assert headless_reason({'WAYLAND_DISPLAY': 'wayland-0'}, 'linux') is None
    assert 'offscreen' in headless_reason(
        {'DISPLAY': ':0', 'QT_QPA_PLATFORM': 'offscreen'}, 'linux')


def test_fps_report_leaves_out_the_warm_up_frame():
    line = demo.fps_report([0.9, 0.1, 0.3], [1.5, 0.2, 0.6])
    assert 'over 2 frame(s), first frame left out' in line
    assert 'model 5.00 frames/s (200.0 ms/frame)' in line
    assert 'end-to-end 2.50 frames/s (400.0 ms/frame)' in line
    assert 'over 1 frame(s): model 2.00' in demo.fps_report([0.5], [0.8])


# --- the tool's early errors (in process, before any model is built) -------

def _exit_message(argv):
    with pytest.raises(SystemExit) as e:
        demo.main(argv)
    return str(e.value.code)


def test_bad_input_stops_early_naming_the_path(tmp_path, fruits_nuts):
    img = osp.join(fruits_nuts, 'images', '11.jpg')
    missing = str(tmp_path / 'missing')
    msg = _exit_message([missing, TINY_CFG, '--weights', 'w.pth'])
    assert f"INPUT '{missing}': no such file" in msg
    (tmp_path / 'empty').mkdir()
    msg = _exit_message([str(tmp_path / 'empty'), TINY_CFG, '--weights',
                         'w.pth'])
    assert 'holds no images' in msg
    (tmp_path / 'bad.avi').write_bytes(b'\0' * 1000)
    msg = _exit_message([str(tmp_path / 'bad.avi'), TINY_CFG, '--weights',
                         'w.pth'])
    assert 'bad.avi' in msg and 'cannot be read' in msg
    msg = _exit_message([img, str(tmp_path / 'cfg.py'), '--weights',
                         'w.pth'])
    assert f"config file '{tmp_path / 'cfg.py'}' not found" in msg
    msg = _exit_message([img, TINY_CFG, '--weights', missing + '.pth'])
    assert f"checkpoint '{missing}.pth' not found" in msg


def test_checkpoint_that_pickles_code_is_refused(
        tmp_path, fruits_nuts, evil):  # noqa: F811  (the imported fixture)
    path, marker = evil
    msg = _exit_message([osp.join(fruits_nuts, 'images', '11.jpg'),
                         TINY_CFG, '--weights', str(path), '--out-dir',
                         str(tmp_path / 'out')])
    assert f"refusing checkpoint '{path}'" in msg and 'system' in msg
    assert not marker.exists()
    assert not (tmp_path / 'out').exists()


def test_unknown_device_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as e:
        demo.main(['x.jpg', TINY_CFG, '--weights', 'w.pth', '--device',
                   'tpu'])
    assert e.value.code == 2
    assert "--device: unknown device 'tpu'" in capsys.readouterr().err


def test_webcam_without_display_says_why(monkeypatch):
    monkeypatch.delenv('DISPLAY', raising=False)
    monkeypatch.delenv('WAYLAND_DISPLAY', raising=False)
    msg = _exit_message(['webcam', TINY_CFG, '--weights', 'w.pth'])
    assert msg.startswith('error: INPUT webcam: webcam mode shows')
    assert 'no display' in msg or 'without a GUI' in msg
    assert 'give its file as INPUT' in msg  # what to use instead


def test_camera_that_cannot_be_opened_is_named(monkeypatch):
    monkeypatch.setenv('DISPLAY', ':99')  # past the display check
    monkeypatch.delenv('QT_QPA_PLATFORM', raising=False)
    if headless_reason():
        pytest.skip(f'no window possible here: {headless_reason()}')
    msg = _exit_message(['webcam:63', TINY_CFG, '--weights', 'w.pth'])
    assert 'camera 63 (INPUT webcam:63) cannot be opened' in msg


# --- end to end ------------------------------------------------------------

@pytest.mark.slow
def test_folder_of_photos(tmp_path, fruits_nuts, ckpt, capsys):
    """In process (the video test below runs the command line)."""
    folder = small_photos(fruits_nuts, tmp_path / 'imgs')
    out = tmp_path / 'out'
    demo.main([str(folder), TINY_CFG, '--weights', ckpt, '--out-dir',
               str(out), '--score-thr', '0', '--device', 'cpu'])
    stdout = capsys.readouterr().out
    assert 'on cpu, fp32; classes (from the config): date, fig, hazelnut' \
        in stdout
    assert '2/2' in stdout  # the progress bar
    assert f'wrote 2 image(s) to {out}' in stdout
    assert int(re.search(r'(\d+) detection\(s\)', stdout).group(1)) > 0
    assert 'over 1 frame(s), first frame left out' in stdout
    assert FPS_LINE.search(stdout), stdout
    for name in ('11.png', '15.png'):
        inp = cv2.imread(str(folder / name))
        res = cv2.imread(str(out / name))
        assert res is not None and res.shape == inp.shape == (240, 320, 3)
        assert drawn_fraction(res, inp) > 0.01


@pytest.mark.slow
def test_video_made_from_photos(tmp_path, fruits_nuts, ckpt):
    video = tmp_path / 'fruits.mp4'
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*'mp4v'), 5,
                             SIZE)
    for name in PHOTOS:
        img = cv2.imread(osp.join(fruits_nuts, 'images', name))
        writer.write(cv2.resize(img, SIZE))
    writer.release()
    out = tmp_path / 'out'
    proc = run_tool('tools/demo.py', str(video), TINY_CFG, '--weights', ckpt,
                    '--out-dir', str(out), '--score-thr', '0', timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert FPS_LINE.search(proc.stdout), proc.stdout
    assert 'over 2 frame(s), first frame left out' in proc.stdout
    frames_in, fps_in = read_frames(video)
    frames_out, fps_out = read_frames(out / 'fruits.mp4')
    assert len(frames_in) == len(frames_out) == len(PHOTOS)
    assert fps_out == fps_in == 5
    for res, inp in zip(frames_out, frames_in):
        assert res.shape == inp.shape == (240, 320, 3)
        assert drawn_fraction(res, inp) > 0.01


@pytest.mark.slow
def test_one_photo_channels_last_bn_folded(tmp_path, fruits_nuts, ckpt, capsys):
    img = osp.join(fruits_nuts, 'images', '3.jpg')
    demo.main([img, TINY_CFG, '--weights', ckpt, '--out-dir',
               str(tmp_path), '--score-thr', '0', '--channels-last',
               '--fuse-conv-bn'])
    stdout = capsys.readouterr().out
    assert 'fp32, channels-last, BN folded; classes' in stdout
    assert 'over 1 frame(s): model' in stdout and FPS_LINE.search(stdout)
    res, inp = cv2.imread(str(tmp_path / '3.jpg')), cv2.imread(img)
    assert res.shape == inp.shape == (600, 800, 3)
    assert drawn_fraction(res, inp) > 0.01


@pytest.mark.slow
def test_bf16_runs_or_says_why(tmp_path, fruits_nuts, ckpt, capsys):
    from projects.engine.inference_precision import bf16_unsupported_reason
    img = osp.join(fruits_nuts, 'images', '3.jpg')
    argv = [img, TINY_CFG, '--weights', ckpt, '--out-dir', str(tmp_path),
            '--score-thr', '0', '--precision', 'bf16', '--device', 'cpu']
    reason = bf16_unsupported_reason('cpu')
    if reason:
        assert _exit_message(argv) == \
            f'error: --precision bf16: precision bf16 on cpu: {reason}'
        return
    demo.main(argv)
    stdout = capsys.readouterr().out
    assert 'on cpu, bf16; classes' in stdout and FPS_LINE.search(stdout)
    assert drawn_fraction(cv2.imread(str(tmp_path / '3.jpg')),
                          cv2.imread(img)) > 0.01
