-- Writes between two backups of the small seed (sandbox `changes`): InnoDB inserts firing the MyISAM trigger, updates, a delete.
USE shop;
INSERT INTO shop.orders (customer_id, placed_at, note) SELECT 1 + seq % 2000, '2026-06-01 00:00:00', CONCAT('change ', seq) FROM seq_1_to_50;
UPDATE shop.customers SET balance = balance + 1 WHERE id <= 20;
DELETE FROM shop.order_tags WHERE order_id = (SELECT MIN(order_id) FROM (SELECT order_id FROM shop.order_tags) AS t);
