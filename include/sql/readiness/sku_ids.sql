SELECT sku_id FROM skus
