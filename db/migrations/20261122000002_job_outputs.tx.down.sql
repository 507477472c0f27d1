DROP TABLE job_outputs;
