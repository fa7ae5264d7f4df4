"""Print the bad-input table of docs/datasets.md from the test cases.

    python tools/analysis/bad_input_table.py

Reads the list ``CASES`` of tests/test_apis/test_dataset_check.py (the
cases and what each must give, which that test file checks on the real
fruits_nuts photos) and prints one Markdown row per case; writes nothing
(the table is pasted into docs/datasets.md, "Bad input"). The script only
renders that list, so the page cannot drift from the tests
(test_doc_table_is_current checks the page shows this output).
"""
import importlib.util
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _cases() -> list:
    sys.path.insert(0, osp.join(ROOT, 'tests'))  # the tests' conftest
    path = osp.join(ROOT, 'tests', 'test_apis', 'test_dataset_check.py')
    spec = importlib.util.spec_from_file_location('_bad_input_cases', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.CASES


def _field(case) -> str:
    if case.names_image:
        return f'`images[id=N]{case.field}`'
    if case.field.startswith('.'):
        return f'`annotations[id=N]{case.field}`'
    return f'`{case.field}`'


def table() -> str:
    """str: the markdown table, one row per case."""
    rows = ['| input | what happens |', '| --- | --- |']
    for case in _cases():
        if case.outcome == 'stops':
            where = 'image file' if case.names_image else 'annotation file'
            what = (f'stops before training: error naming the {where} and '
                    f'{_field(case)}: "{case.text}"')
        elif case.field:
            what = (f'worked, with a warning naming the annotation file and '
                    f'{_field(case)}: "{case.text}"')
        else:
            what = f'worked: {case.note}'
        rows.append(f'| {case.input} | {what} |')
    return '\n'.join(rows)


if __name__ == '__main__':
    print(table())
