module weir.local/bench/loadgen

go 1.22
