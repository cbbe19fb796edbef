from ecgtrace.cli import run

run()
