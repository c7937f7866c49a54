-- Odd identifiers and awkward tables: everything must be captured, restored and verified by quoting in one place.
CREATE DATABASE `we``ird db.名前` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
USE `we``ird db.名前`;
CREATE TABLE `select` (`from` INT PRIMARY KEY, `where` VARCHAR(20), `order` TEXT) ENGINE=InnoDB;
INSERT INTO `select` SELECT seq, CONCAT('w', seq), IF(seq % 2, NULL, 'x') FROM seq_1_to_500;
CREATE TABLE `tab with ``ticks``, spaces. and "quotes'` (id INT PRIMARY KEY, v VARCHAR(10)) ENGINE=InnoDB;
INSERT INTO `tab with ``ticks``, spaces. and "quotes'` VALUES (1, 'a'), (2, 'b');
CREATE TABLE `テーブル` (`列` VARCHAR(20) PRIMARY KEY, n INT) ENGINE=InnoDB;
INSERT INTO `テーブル` VALUES ('東京', 1), ('大阪', 2), ('🍣', 3);
CREATE TABLE `tttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttt` (id INT PRIMARY KEY) ENGINE=InnoDB;
INSERT INTO `tttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttt` VALUES (1), (2), (3);
CREATE TABLE no_pk (a INT, b VARCHAR(10)) ENGINE=InnoDB;
INSERT INTO no_pk VALUES (1, 'x'), (1, 'x'), (NULL, NULL), (2, '');
CREATE TABLE empty_one (id INT PRIMARY KEY) ENGINE=InnoDB;
CREATE TABLE generated_cols (
  id INT PRIMARY KEY,
  price DECIMAL(10,2),
  qty INT,
  total DECIMAL(12,2) AS (price * qty) STORED,
  label VARCHAR(40) AS (CONCAT('item-', id)) VIRTUAL,
  KEY idx_label (label)
) ENGINE=InnoDB;
INSERT INTO generated_cols (id, price, qty) SELECT seq, seq * 1.5, seq % 7 FROM seq_1_to_300;
CREATE TABLE blobs (id INT PRIMARY KEY, data LONGBLOB, note MEDIUMTEXT) ENGINE=InnoDB;
INSERT INTO blobs SELECT seq, UNHEX(SHA2(seq, 512)), REPEAT('ñ', seq) FROM seq_1_to_200;
CREATE TABLE places (id INT PRIMARY KEY, pos POINT NOT NULL, area POLYGON NULL, SPATIAL KEY sp_pos (pos)) ENGINE=InnoDB;
INSERT INTO places SELECT seq, POINT(seq, seq * 2), IF(seq % 2, NULL, ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 1,0 0))')) FROM seq_1_to_100;
-- Names the servers write to file names in their own encoding (`order@002ditems`, `caf@0p`, `@0023tag`): the baseline
-- decodes them to compare the datadir with the catalog (src/db/fileName.ts).
CREATE TABLE `order-items` (id INT AUTO_INCREMENT PRIMARY KEY, sku VARCHAR(20) NOT NULL) ENGINE=InnoDB;
INSERT INTO `order-items` (sku) SELECT CONCAT('sku-', seq) FROM seq_1_to_150;
CREATE TABLE `café` (id INT PRIMARY KEY, v VARCHAR(10)) ENGINE=InnoDB;
INSERT INTO `café` VALUES (1, 'noir'), (2, 'crème');
CREATE TABLE `#tag` (id INT PRIMARY KEY) ENGINE=InnoDB;
INSERT INTO `#tag` VALUES (1);
CREATE TABLE `Upper_Case` (id INT PRIMARY KEY) ENGINE=InnoDB;
INSERT INTO `Upper_Case` VALUES (1), (2);
CREATE VIEW `view ``odd``` AS SELECT `from`, `where` FROM `select` WHERE `from` < 10;
CREATE DATABASE `dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd`;
CREATE TABLE `dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd`.`tttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttt` (id INT PRIMARY KEY, t DATETIME(6)) ENGINE=InnoDB;
INSERT INTO `dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd`.`tttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttt` VALUES (1, '2026-11-25 03:00:00.123456');
-- mariadb-backup 10.11 runs BACKUP LOCK on non-InnoDB tables without escaping backticks in the database name,
-- so the Aria table lives in a database whose name has none.
CREATE TABLE `dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd`.`aria t` (id INT PRIMARY KEY, v VARCHAR(10)) ENGINE=Aria;
INSERT INTO `dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd`.`aria t` VALUES (1, 'aria');
