"""Outputs: what a reader sees. Terminal tables (terminal.py, from a report's plain dict), the HTML page of
every trial (trial_page.py, `bench view`), leaderboards (leaderboard.py for graded runs, study_board.py for
imported rollouts), exports (exports.py) and number formatting (formatting.py). May import every layer
below; nothing here computes a statistic."""
