"""What the students' in-notebook checks and the batch grader share: case specs, comparisons with the reference, hints, trusted baselines, and the graded cases of each assignment."""
