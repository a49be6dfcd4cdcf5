# Writes examples/data/co2.csv from R's `datasets` package (Debian r-base-core):
# monthly atmospheric CO2 at Mauna Loa, 1959-1997, ppm (R's `co2`).
#   Rscript tools/extract-co2.R
data(co2, package = "datasets")
t <- time(co2)
df <- data.frame(year = floor(as.numeric(t) + 1e-9), month = cycle(co2), co2 = as.numeric(co2))
write.csv(df, "examples/data/co2.csv", row.names = FALSE, quote = FALSE)
