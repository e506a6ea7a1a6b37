//! Statistics for the judge. (Skeleton: a helper fills it in.)
