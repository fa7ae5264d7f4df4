"""Inputs and outputs of tools/demo.py: what INPUT names (images, a video,
a camera), reading frames, writing annotated images and videos, and whether
a window can be shown.

mmdet's ``DetInferencer`` lists a folder but opens neither videos nor
cameras, and its own demo scripts (``demo/video_demo.py``,
``demo/webcam_demo.py``) are separate files; this module gives the zoo's one
demo tool every kind of input with errors that name the path at fault before
a model is built. Image extensions are mmdet's (``IMG_EXTENSIONS`` of
``mmdet/apis/det_inferencer.py``); frames are read and written with OpenCV
(``cv2.VideoCapture``, ``cv2.VideoWriter``).
"""
import os
import os.path as osp
import sys
from dataclasses import dataclass
from typing import Iterator, Mapping, Optional, Tuple

import cv2
import numpy as np
from mmdet.apis.det_inferencer import IMG_EXTENSIONS

VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mov', '.mkv', '.webm', '.m4v', '.mpg',
                    '.mpeg', '.wmv')
#: fourcc of the written video, by extension; others get 'mp4v'
FOURCC = {'.avi': 'MJPG', '.mkv': 'MJPG'}


class DemoInputError(ValueError):
    """INPUT, or a file it names, cannot be used; the message names it."""


@dataclass(frozen=True)
class DemoInput:
    """What INPUT of tools/demo.py names.

    Attributes:
        kind (str): ``'images'``, ``'video'`` or ``'webcam'``.
        paths (tuple[str]): the image files (sorted by name) or the one
            video file; empty for a camera.
        camera (int): camera index (``webcam:N``), for ``'webcam'``.
    """
    kind: str
    paths: Tuple[str, ...] = ()
    camera: int = 0


def _ext(path: str) -> str:
    return osp.splitext(path)[1].lower()


def parse_input(spec: str) -> DemoInput:
    """Resolve INPUT: an image file, a folder of images, a video file,
    ``webcam`` or ``webcam:N``.

    The keyword wins over a file of that name (pass ``./webcam`` for one).
    A folder is read non-recursively; files without an image extension in
    it are skipped.

    Args:
        spec (str): INPUT as given on the command line.

    Returns:
        DemoInput: the kind and the files or camera index.

    Raises:
        DemoInputError: no such file or folder, a folder without images,
            a file that is neither an image nor a video by its extension,
            or a camera index that is not a non-negative integer.
    """
    if spec == 'webcam' or spec.startswith('webcam:'):
        index = spec.partition(':')[2] or '0'
        if not index.isdigit():
            raise DemoInputError(
                f'INPUT {spec!r}: the camera index must be a non-negative '
                'integer, e.g. webcam:0')
        return DemoInput('webcam', camera=int(index))
    if osp.isdir(spec):
        names = sorted(n for n in os.listdir(spec)
                       if _ext(n) in IMG_EXTENSIONS
                       and osp.isfile(osp.join(spec, n)))
        if not names:
            raise DemoInputError(
                f'INPUT folder {spec!r} holds no images (looked for '
                f'{", ".join(IMG_EXTENSIONS)})')
        return DemoInput('images', tuple(osp.join(spec, n) for n in names))
    if not osp.exists(spec):
        raise DemoInputError(
            f'INPUT {spec!r}: no such file or folder (give an image, a '
            'folder of images, a video, or webcam[:N])')
    if _ext(spec) in IMG_EXTENSIONS:
        return DemoInput('images', (spec, ))
    if _ext(spec) in VIDEO_EXTENSIONS:
        return DemoInput('video', (spec, ))
    raise DemoInputError(
        f'INPUT {spec!r}: unknown file type {_ext(spec) or "(none)"!r}; '
        f'images: {", ".join(IMG_EXTENSIONS)}; videos: '
        f'{", ".join(VIDEO_EXTENSIONS)}')


def read_images(paths: Tuple[str, ...]) -> Iterator[Tuple[str, np.ndarray]]:
    """Yield ``(path, image)`` for each file, read as OpenCV does.

    Yields:
        tuple: the path and the image, uint8 array of shape (H, W, 3), BGR.

    Raises:
        DemoInputError: a file that does not decode as an image.
    """
    for path in paths:
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            raise DemoInputError(f'image {path!r} cannot be decoded')
        yield path, img


@dataclass
class VideoSource:
    """An opened video file or camera.

    Attributes:
        capture (cv2.VideoCapture): the opened capture.
        fps (float): frames per second it reports (0 when unknown, e.g.
            many cameras).
        num_frames (int): frames it reports (0 when unknown: a camera).
        size (tuple[int, int]): frame width and height in pixels.
    """
    capture: cv2.VideoCapture
    fps: float
    num_frames: int
    size: Tuple[int, int]

    def frames(self) -> Iterator[np.ndarray]:
        """Yield frames, uint8 arrays of shape (H, W, 3), BGR, until the
        capture ends, then release it."""
        try:
            while True:
                ok, frame = self.capture.read()
                if not ok:
                    return
                yield frame
        finally:
            self.capture.release()


def _source(capture: cv2.VideoCapture) -> VideoSource:
    fps = capture.get(cv2.CAP_PROP_FPS)
    count = capture.get(cv2.CAP_PROP_FRAME_COUNT)
    return VideoSource(
        capture,
        fps=float(fps) if fps and np.isfinite(fps) and fps > 0 else 0.,
        num_frames=int(count) if count and count > 0 else 0,
        size=(int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
              int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))))


def open_video(path: str) -> VideoSource:
    """Open a video file and check that its first frame decodes.

    Raises:
        DemoInputError: OpenCV cannot open the file or decode a frame.
    """
    capture = cv2.VideoCapture(path)
    readable = capture.isOpened() and capture.grab()
    capture.release()  # reopened below: seeking back is not exact for all
    if not readable:
        raise DemoInputError(
            f'video {path!r} cannot be read by OpenCV (not a video, damaged, '
            'or a codec its FFmpeg lacks)')
    return _source(cv2.VideoCapture(path))


def open_camera(index: int) -> VideoSource:
    """Open camera ``index`` (``/dev/video<index>`` on Linux).

    Raises:
        DemoInputError: no such camera, or it gives no frame.
    """
    capture = cv2.VideoCapture(index)
    if not capture.isOpened() or not capture.grab():
        capture.release()
        raise DemoInputError(
            f'camera {index} (INPUT webcam:{index}) cannot be opened: no '
            'such device, or it is busy or not permitted. List cameras with '
            '`v4l2-ctl --list-devices` (Linux), try another index, or pass '
            'a video file as INPUT instead')
    return _source(capture)


def headless_reason(environ: Optional[Mapping[str, str]] = None,
                    platform: Optional[str] = None) -> Optional[str]:
    """Why no window can be shown here, or None if one can.

    A window needs OpenCV built with a GUI backend (``opencv-python-
    headless`` has none) and, on Linux and other X11/Wayland systems, a
    display (``$DISPLAY`` or ``$WAYLAND_DISPLAY``); without one, OpenCV's Qt
    backend aborts the process on ``cv2.imshow`` instead of raising.

    Args:
        environ (Mapping, optional): environment; default ``os.environ``.
        platform (str, optional): default ``sys.platform``.

    Returns:
        str or None: the reason, phrased to follow "no window: ".
    """
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    info = cv2.getBuildInformation()
    gui = [ln.split(':', 1)[1].strip() for ln in info.splitlines()
           if ln.strip().startswith('GUI:')]
    if gui and gui[0].upper() == 'NONE':
        return 'OpenCV was built without a GUI backend (a headless build)'
    if environ.get('QT_QPA_PLATFORM', '') == 'offscreen':
        return 'QT_QPA_PLATFORM=offscreen draws no window'
    if platform.startswith(('win', 'darwin', 'cygwin')):
        return None
    if not (environ.get('DISPLAY') or environ.get('WAYLAND_DISPLAY')):
        return 'this machine has no display ($DISPLAY and $WAYLAND_DISPLAY ' \
            'are unset)'
    return None


def output_path(out_dir: str, src: str) -> str:
    """``out_dir/<file name of src>``, never ``src`` itself.

    Raises:
        DemoInputError: the output would overwrite the input file.
    """
    out = osp.join(out_dir, osp.basename(src))
    if osp.exists(out) and osp.samefile(out, src):
        raise DemoInputError(
            f'--out-dir {out_dir!r} would overwrite the input {src!r}; '
            'choose another folder')
    return out


def video_writer(path: str, fps: float,
                 size: Tuple[int, int]) -> cv2.VideoWriter:
    """An opened ``cv2.VideoWriter`` for ``path`` (fourcc by extension:
    MJPG for .avi/.mkv, else mp4v).

    Args:
        path (str): the video to write.
        fps (float): frames per second.
        size (tuple[int, int]): frame width and height in pixels.

    Raises:
        DemoInputError: OpenCV cannot write that file.
    """
    fourcc = cv2.VideoWriter_fourcc(*FOURCC.get(_ext(path), 'mp4v'))
    writer = cv2.VideoWriter(path, fourcc, fps, size)
    if not writer.isOpened():
        raise DemoInputError(f'cannot write video {path!r} with OpenCV')
    return writer


class ImageSink:
    """Writes each drawn image as ``out_dir/<its input's file name>``.

    Args:
        out_dir (str): created if missing.
    """

    def __init__(self, out_dir: str) -> None:
        os.makedirs(out_dir, exist_ok=True)
        self.out_dir = out_dir
        self.written: list = []

    def __call__(self, name: str, img: np.ndarray) -> bool:
        """Write ``img`` (uint8, shape (H, W, 3), BGR) for input ``name``;
        returns True (go on).

        Raises:
            DemoInputError: it would overwrite the input, or OpenCV cannot
                write the file.
        """
        out = output_path(self.out_dir, name)
        if not cv2.imwrite(out, img):
            raise DemoInputError(f'cannot write {out!r}')
        self.written.append(out)
        return True

    def close(self) -> str:
        """What was written, as one line."""
        return f'wrote {len(self.written)} image(s) to {self.out_dir}'


class VideoSink:
    """Writes drawn frames into ``out_dir/<the input video's file name>`` at
    the input's frame rate (25 frames/s when it gives none).

    Args:
        out_dir (str): created if missing.
        src (str): the input video.
        source (VideoSource): the opened input (frame rate and size).

    Raises:
        DemoInputError: the output would overwrite the input, or OpenCV
            cannot write it.
    """

    def __init__(self, out_dir: str, src: str, source: VideoSource) -> None:
        os.makedirs(out_dir, exist_ok=True)
        self.path = output_path(out_dir, src)
        self.fps = source.fps or 25.
        self.size = source.size
        self.writer = video_writer(self.path, self.fps, self.size)
        self.frames = 0

    def __call__(self, name: str, img: np.ndarray) -> bool:
        """Append ``img`` (uint8, shape (H, W, 3), BGR); returns True."""
        self.writer.write(img)
        self.frames += 1
        return True

    def close(self) -> str:
        """Finish the file; what was written, as one line."""
        self.writer.release()
        return (f'wrote {self.path} ({self.frames} frames, {self.fps:g} '
                f'frames/s, {self.size[0]}x{self.size[1]})')


class WindowSink:
    """Shows drawn frames in an OpenCV window; q or Esc stops.

    Args:
        title (str): the window's title.
    """

    def __init__(self, title: str) -> None:
        self.title = title
        self.frames = 0

    def __call__(self, name: str, img: np.ndarray) -> bool:
        """Show ``img`` (uint8, shape (H, W, 3), BGR); False once q or Esc
        is pressed."""
        cv2.imshow(self.title, img)
        self.frames += 1
        return cv2.waitKey(1) & 0xFF not in (27, ord('q'), ord('Q'))

    def close(self) -> str:
        """Close the window; what was shown, as one line."""
        cv2.destroyAllWindows()
        return f'showed {self.frames} frame(s)'
