# The two quick-start commands:
#   make demo   builds and runs the SQLite demo (threads writing through qthr vs a baseline)
#   make test   builds and runs every test suite (Rust, C, C++, Python, Go, reliability):
#               scripts/test-all.sh; `bash scripts/test-all.sh rust ctest` runs only those steps
.PHONY: demo test bench lib header

demo:
	bash scripts/demo.sh

test:
	bash scripts/test-all.sh

bench:
	cargo bench --bench qthr
	@if [ -f bindings/python/bench.py ]; then python3 bindings/python/bench.py; fi

lib:
	cargo build --release

header:
	QTHR_BLESS=1 cargo test --release --test header
