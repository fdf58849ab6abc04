"""`make bench`: run every benchmark in this folder; each prints a table and saves JSON under results/."""

from benchmarks import grading

if __name__ == "__main__":
    grading.main()
