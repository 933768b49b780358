"""Scale-out building blocks (issue 10): shard a source into JSON Lines, plan index ranges
aligned across sources, run picklable tasks on local processes or Ray, and write part files
that merge into a single run's exact bytes. The pipeline knows nothing of these modules;
docs/scale-out.md tells the design and what is left to wire.
"""
