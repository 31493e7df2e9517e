-- definition: the longest known SKU repurchase cycle in days (bounds the orders repurchase_due reads)
-- binds: none
SELECT MAX(k.repurchase_cycle_days) AS max_cycle FROM skus k
