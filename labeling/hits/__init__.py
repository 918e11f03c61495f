"""HITs: the scheduler that hands out assignments, submissions, and their read-side queries."""
