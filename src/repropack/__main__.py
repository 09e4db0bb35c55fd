from repropack.cli import run

run()
