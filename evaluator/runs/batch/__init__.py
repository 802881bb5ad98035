"""`evaluator batch`: CSV in (`table`: encodings, delimiters, columns), graded rows out in input
order (`job`), streamed in fsynced chunks so `--resume` continues after a crash (`sinks`)."""
