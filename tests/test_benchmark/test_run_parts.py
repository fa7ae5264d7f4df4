"""projects.benchmark.run_parts: a run's parts over sessions, killed ones
closed at their log's last write."""
import os

import pytest

from projects.benchmark import run_parts
from projects.benchmark.protocol import RunRecord

INTEL = 'cpu (Intel(R) Xeon(R) Processor, AMX, 2 threads)'
AMD = 'cpu (AMD EPYC, AVX2, 2 threads)'


def test_a_killed_part_ends_at_its_logs_last_write(tmp_path):
    """Session 1 starts the run and is killed an hour in (its log was last
    written then); session 2, on another machine, resumes and finishes.
    The wall time is both parts', and each keeps its device."""
    first = run_parts.begin_part(str(tmp_path), INTEL, 'bf16',
                                 'channels-last', now=1000.0)
    log = tmp_path / 'train.out'
    log.write_text('Iter(train) [ 960/2304]\n')
    os.utime(log, (4600.0, 4600.0))
    second = run_parts.begin_part(str(tmp_path), AMD, 'fp32', 'NCHW',
                                  now=9000.0)
    run_parts.end_part(str(tmp_path), second, now=9000.0 + 1800.0)
    parts = run_parts.read_parts(str(tmp_path))
    assert [p.start for p in parts] == [first.start, second.start]
    assert [(p.ended, p.wall_s) for p in parts] == [('killed', 3600.0),
                                                    ('finished', 1800.0)]
    wall, kept = run_parts.summary(parts)
    assert wall == 5400.0
    assert kept == [dict(device=INTEL, precision='bf16',
                         layout='channels-last', wall_s=3600.0,
                         ended='killed'),
                    dict(device=AMD, precision='fp32', layout='NCHW',
                         wall_s=1800.0, ended='finished')]


def test_failed_parts_count_and_a_running_part_does_not(tmp_path):
    part = run_parts.begin_part(str(tmp_path), AMD, 'fp32', now=10.0)
    run_parts.end_part(str(tmp_path), part, 'failed', now=70.0)
    run_parts.begin_part(str(tmp_path), AMD, 'fp32', now=100.0)
    parts = run_parts.read_parts(str(tmp_path))
    assert [(p.ended, p.wall_s) for p in parts] == [('failed', 60.0),
                                                    ('', 0.0)]
    assert run_parts.summary(parts)[0] == 60.0


def test_a_part_killed_before_it_logged_anything_costs_nothing(tmp_path):
    run_parts.begin_part(str(tmp_path), AMD, 'fp32', now=50.0)
    run_parts.begin_part(str(tmp_path), AMD, 'fp32', now=80.0)
    first = run_parts.read_parts(str(tmp_path))[0]
    assert (first.ended, first.wall_s) == ('killed', 0.0)


def test_a_broken_ledger_line_is_named(tmp_path):
    (tmp_path / run_parts.LEDGER).write_text('{"start": 1.0}\nnot json\n')
    with pytest.raises(ValueError, match=r'parts.jsonl, line 1'):
        run_parts.read_parts(str(tmp_path))


def test_a_record_says_where_each_part_trained():
    record = RunRecord(method='sais', seed=1, lr=0.001, config='c.py',
                       device=AMD, metrics={}, precision='fp32', parts=[
                           dict(device=INTEL, precision='bf16', wall_s=1.0,
                                ended='killed'),
                           dict(device=AMD, precision='fp32', wall_s=1.0,
                                ended='killed'),
                           dict(device=AMD, precision='fp32', wall_s=1.0,
                                ended='finished')])
    assert record.trained_on() == [f'bf16, {INTEL}', f'fp32, {AMD}']
    old = RunRecord(method='sais', seed=0, lr=0.001, config='c.py',
                    device=INTEL, metrics={}, precision='bf16')
    assert old.trained_on() == [f'bf16, {INTEL}']
