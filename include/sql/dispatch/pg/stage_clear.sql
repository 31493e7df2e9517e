DELETE FROM dispatch_stage
