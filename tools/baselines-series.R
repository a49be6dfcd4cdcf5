# Classical baselines on the forecasting benchmark (issue 18), on exactly the splits
# of examples/data/series/index.csv (written by tools/extract-series.R): the last
# `holdout` values of each series are the test set, the rest is training data.
# Writes examples/data/series/baselines.csv (one row per series and method: MAE, MASE,
# sMAPE, coverage of the 80% interval) and examples/data/series/baseline-forecasts.csv
# (every forecast: mean and 80% interval per step).
#   Rscript tools/baselines-series.R      (R 4.x, Debian r-cran-forecast)
#
# Methods (package forecast): snaive (m > 1) or naive (m = 1), ets, auto.arima, thetaf,
# all with their defaults.
# Metrics, over the h test steps (y: truth, f: forecast, x_1..x_n: training data, m: period):
#   MAE   = mean |y - f|
#   MASE  = MAE / (1/(n-m) sum_{t=m+1..n} |x_t - x_{t-m}|)   (Hyndman & Koehler 2006: scaled by
#           the in-sample MAE of the seasonal naive forecast; m = 1: of the naive forecast).
#           Checked below against forecast::accuracy(), which computes it independently.
#   sMAPE = mean 200 |y - f| / (|y| + |f|)   (percent, as in M4; a term with y = f = 0 counts 0)
#   cover80 = share of test steps inside the 80% prediction interval
suppressMessages(library(forecast))
dir <- "examples/data/series"
idx <- read.csv(file.path(dir, "index.csv"), stringsAsFactors = FALSE)
rows <- data.frame(); fcs <- data.frame()
smape <- function(y, f) mean(ifelse(abs(y) + abs(f) == 0, 0, 200 * abs(y - f) / (abs(y) + abs(f))))
for (i in seq_len(nrow(idx))) {
  name <- idx$name[i]; m <- idx$period[i]; h <- idx$holdout[i]
  v <- read.csv(file.path(dir, paste0(name, ".csv")))$value
  n <- length(v)
  train <- ts(v[1:(n - h)], frequency = m)
  # The test set as a ts continuing the training one: accuracy() takes the seasonal period of its
  # MASE scale from the test set's frequency (a plain vector would give the naive, lag-1 scale).
  test <- ts(v[(n - h + 1):n], start = tsp(train)[2] + 1 / m, frequency = m)
  scale <- mean(abs(diff(as.numeric(train), lag = m)))
  fits <- list(
    snaive = if (m > 1) snaive(train, h = h, level = 80) else naive(train, h = h, level = 80),
    ets = forecast(ets(train), h = h, level = 80),
    auto.arima = forecast(auto.arima(train), h = h, level = 80),
    thetaf = thetaf(train, h = h, level = 80)
  )
  for (meth in names(fits)) {
    fc <- fits[[meth]]
    f <- as.numeric(fc$mean); lo <- as.numeric(fc$lower[, 1]); hi <- as.numeric(fc$upper[, 1])
    mae <- mean(abs(as.numeric(test) - f))
    mase <- mae / scale
    acc <- accuracy(fc, test)
    if (!isTRUE(all.equal(mase, acc["Test set", "MASE"], tolerance = 1e-10))) stop(sprintf("%s %s: MASE %.12g here, %.12g from accuracy()", name, meth, mase, acc["Test set", "MASE"]))
    stopifnot(isTRUE(all.equal(mae, acc["Test set", "MAE"], tolerance = 1e-10)))
    rows <- rbind(rows, data.frame(series = name, method = meth, model = gsub(",", ";", fc$method),
      mae = sprintf("%.17g", mae), mase = sprintf("%.17g", mase), smape = sprintf("%.17g", smape(as.numeric(test), f)),
      cover80 = sprintf("%.6g", mean(as.numeric(test) >= lo & as.numeric(test) <= hi))))
    fcs <- rbind(fcs, data.frame(series = name, method = meth, step = seq_len(h),
      mean = sprintf("%.17g", f), lo80 = sprintf("%.17g", lo), hi80 = sprintf("%.17g", hi)))
  }
  cat(sprintf("%-16s n=%4d h=%3d  MASE snaive %.3f ets %.3f arima %.3f theta %.3f\n", name, n, h,
    as.numeric(rows$mase[nrow(rows) - 3]), as.numeric(rows$mase[nrow(rows) - 2]), as.numeric(rows$mase[nrow(rows) - 1]), as.numeric(rows$mase[nrow(rows)])))
}
write.csv(rows, file.path(dir, "baselines.csv"), row.names = FALSE, quote = FALSE)
write.csv(fcs, file.path(dir, "baseline-forecasts.csv"), row.names = FALSE, quote = FALSE)
