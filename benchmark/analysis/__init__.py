"""Analysis: pure functions over a run's stored columns, never re-parsing a reply. Paired statistics of
graded runs (paired.py: inflation, tests, factor effects, bunching, study metrics; doses.py: ladders, trends,
distance from the bar, net of the placebo, peer-specific leniency), two-sample statistics
of imported harness rollouts (unpaired.py), what a design can reach (reach.py), and the report a run's
analysis makes (report.py). May import everything below: common, truth, data, models, units, run."""
