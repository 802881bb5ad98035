"""`evaluator batch`: CSV in (`table`: encodings, delimiters, columns), records graded into rows
(`rows`, shared with evaluator.batch.ray; repeated answers graded once), graded rows out in
input order (`job`), streamed in fsynced chunks so `--resume` continues after a crash (`sinks`)."""
