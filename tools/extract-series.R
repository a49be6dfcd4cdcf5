# Writes the forecasting benchmark (issue 18) into examples/data/series/:
# one CSV per series (columns: index, time, value) and index.csv (name, period,
# frequency, start, n, holdout, kind, package, source, licence).
# The series are the ones shipped with R (package `datasets`, Debian r-base-core)
# and with the `forecast` package (Debian r-cran-forecast).
#   Rscript tools/extract-series.R
#
# period: the declared seasonal period m (frequency of the ts; 1 for series without
#   a fixed seasonal cycle). Holdout: the last 2 seasons (2m) of a seasonal series,
#   the last 10% (rounded) of a non-seasonal one.
# Left out: forecast::gold (daily, 34 missing values), forecast::taylor (half-hourly,
#   m = 336: beyond a CI budget), datasets::uspop (19 points: too short for a lookback
#   plus a holdout).
suppressMessages(library(forecast))
out <- "examples/data/series"
dir.create(out, showWarnings = FALSE, recursive = TRUE)

R_LIC <- "distributed with R (GPL-2 | GPL-3); the data are published historical records"
FC_LIC <- "distributed with the R package forecast (GPL-3)"
S <- list(
  # name, object, period, package, source
  list("co2", datasets::co2, 12, "datasets", "Mauna Loa atmospheric CO2 (ppm), 1959-1997; Keeling & Whorf, Scripps Institution of Oceanography"),
  list("AirPassengers", datasets::AirPassengers, 12, "datasets", "Monthly international airline passengers (thousands), 1949-1960; Box & Jenkins (1976)"),
  list("nottem", datasets::nottem, 12, "datasets", "Monthly average air temperature at Nottingham Castle (deg F), 1920-1939; Anderson (1976)"),
  list("USAccDeaths", datasets::USAccDeaths, 12, "datasets", "Monthly accidental deaths in the USA, 1973-1978; Brockwell & Davis (1991)"),
  list("UKDriverDeaths", datasets::UKDriverDeaths, 12, "datasets", "Monthly car drivers killed or seriously injured in Great Britain, 1969-1984; Harvey (1989)"),
  list("ldeaths", datasets::ldeaths, 12, "datasets", "Monthly deaths from lung diseases in the UK, 1974-1979; Diggle (1990)"),
  list("wineind", forecast::wineind, 12, "forecast", "Australian total wine sales by wine makers in bottles <= 1 litre, monthly, 1980-1994; Australian Bureau of Statistics"),
  list("gas", forecast::gas, 12, "forecast", "Australian monthly gas production, 1956-1995; Australian Bureau of Statistics"),
  list("UKgas", datasets::UKgas, 4, "datasets", "UK quarterly gas consumption (million therms), 1960-1986; Durbin & Koopman (2001)"),
  list("JohnsonJohnson", datasets::JohnsonJohnson, 4, "datasets", "Quarterly earnings (dollars) per Johnson & Johnson share, 1960-1980; Shumway & Stoffer (2000)"),
  list("woolyrnq", forecast::woolyrnq, 4, "forecast", "Quarterly production of woollen yarn in Australia (tonnes), 1965-1994; Australian Bureau of Statistics"),
  list("austres", datasets::austres, 4, "datasets", "Quarterly number of Australian residents (thousands), 1971-1994; Brockwell & Davis (1996)"),
  list("sunspot.month", datasets::sunspot.month, 1, "datasets", "Monthly mean relative sunspot numbers, 1749-2013; WDC-SILSO, Royal Observatory of Belgium (no fixed seasonal period: m = 1)"),
  list("sunspot.year", datasets::sunspot.year, 1, "datasets", "Yearly sunspot numbers, 1700-1988; Tong (1996)"),
  list("Nile", datasets::Nile, 1, "datasets", "Annual flow of the Nile at Aswan (10^8 m^3), 1871-1970; Durbin & Koopman (2001)"),
  list("lynx", datasets::lynx, 1, "datasets", "Annual Canadian lynx trappings, 1821-1934; Campbell & Walker (1977)"),
  list("LakeHuron", datasets::LakeHuron, 1, "datasets", "Annual level of Lake Huron (ft), 1875-1972; Brockwell & Davis (1991)"),
  list("discoveries", datasets::discoveries, 1, "datasets", "Yearly numbers of important discoveries, 1860-1959; The World Almanac (1975)"),
  list("WWWusage", datasets::WWWusage, 1, "datasets", "Users connected to the Internet through a server, every minute; Durbin & Koopman (2001)"),
  list("BJsales", datasets::BJsales, 1, "datasets", "Sales, 150 consecutive periods; Box & Jenkins (1976), series M")
)

idx <- data.frame()
for (s in S) {
  name <- s[[1]]; x <- s[[2]]; m <- s[[3]]
  stopifnot(!anyNA(x))
  n <- length(x)
  holdout <- if (m > 1) 2 * m else round(0.1 * n)
  tt <- as.numeric(time(x))
  df <- data.frame(index = seq_len(n), time = sprintf("%.4f", tt), value = format(as.numeric(x), digits = 15, trim = TRUE))
  write.csv(df, file.path(out, paste0(name, ".csv")), row.names = FALSE, quote = FALSE)
  idx <- rbind(idx, data.frame(name = name, period = m, frequency = frequency(x), start = sprintf("%.4f", tt[1]), n = n,
    holdout = holdout, kind = if (frequency(x) == 12) "monthly" else if (frequency(x) == 4) "quarterly" else "annual/other",
    package = s[[4]], source = s[[5]], licence = if (s[[4]] == "forecast") FC_LIC else R_LIC))
}
write.csv(idx, file.path(out, "index.csv"), row.names = FALSE)
cat(sprintf("%d series written to %s\n", nrow(idx), out))
