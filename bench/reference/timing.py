"""Shared timing for the PyTorch references: `warmup` untimed steps, then `runs` timed steps; prints the
line `npm run bench` reads: RESULT {"secondsPerStep": median, "min", "max", "peakRssMB", "torch", "threads"}."""
import json
import resource
import statistics
import time

import torch


def report(step, runs, warmup=3):
    for _ in range(warmup):  # allocations, primitive creation
        step()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    print('RESULT ' + json.dumps({
        'secondsPerStep': statistics.median(times), 'min': min(times), 'max': max(times),
        'peakRssMB': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        'torch': torch.__version__, 'threads': torch.get_num_threads(),
    }))
