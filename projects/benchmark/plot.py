"""The latency-AP plot of a benchmark run: median ms/img against mask AP,
one labelled point per config."""
from typing import List


def plot(rows: List[dict], path: str, title: str) -> List[str]:
    """Latency (ms/img, median) against mask AP, one labelled point per
    row that has both; points of one method that occurs once are labelled
    by the method, else by method and config name.

    Args:
        rows (list[dict]): benchmark rows (``latency_stats``, ``ap``).
        path (str): the PNG to write.
        title (str): the plot's title (the machine).

    Returns:
        list[str]: the names of the rows left out (no AP or no timing).
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    points, left_out = [], []
    for row in rows:
        total = (row.get('latency_stats') or {}).get('total')
        segm = (row.get('ap') or {}).get('segm')
        if total and segm and 'AP' in segm:
            points.append((row, total['median'], segm['AP']))
        else:
            left_out.append(row['name'])
    methods = [r['method'] for r, _, _ in points]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    x_max = max([ms for _, ms, _ in points], default=1.)
    y_max = max([ap for _, _, ap in points] + [1.])
    placed = []
    for row, ms, ap in sorted(points, key=lambda p: p[1]):
        label = row['method'] if methods.count(row['method']) == 1 \
            else f"{row['method']} ({row['name']})"
        # stack the labels of points that lie close together
        taken = {lv for m, a, lv in placed
                 if abs(ms - m) < 0.15 * x_max and abs(ap - a) < 0.05 * y_max}
        level = min(set(range(len(taken) + 1)) - taken)
        placed.append((ms, ap, level))
        ax.scatter([ms], [ap], s=30)
        ax.annotate(label, (ms, ap), textcoords='offset points',
                    xytext=(5, 4 + 10 * level), fontsize=8)
    ax.set_xlabel('inference time, ms/img (median, batch 1)')
    ax.set_ylabel('mask AP')
    ax.set_title(title, fontsize=9)
    ax.set_xlim(0, 1.2 * x_max)
    ax.set_ylim(-0.04 * y_max, 1.15 * y_max)
    ax.grid(alpha=0.3)
    if left_out:
        ax.text(0.01, 0.01, 'not plotted (no AP or no timing): ' +
                ', '.join(left_out), transform=ax.transAxes, fontsize=6,
                va='bottom')
    if not points:
        ax.text(0.5, 0.5, 'no row has both a latency and a mask AP',
                transform=ax.transAxes, ha='center')
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return left_out
