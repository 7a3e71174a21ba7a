"""Slurm for both stages: plan (jobs and arrays from the config), check (compose each task's config before
submitting), submit (the `slurm/submit.sh` command), watch (job states and a bounded wait)."""
